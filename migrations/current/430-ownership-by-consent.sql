-- Membership by consent (issue 11), part 4: ownership is offered, and changes hands only when the
-- member it is offered to accepts. Until then nothing changes.
-- Idempotent: it drops what it creates, then creates or replaces.

drop function if exists iam.transfer_ownership(uuid);
drop function if exists iam.accept_ownership();

create function iam.transfer_ownership(user_id uuid) returns iam.ownership_transfers
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  current_owner uuid := app_hidden.current_user_id();
  recipient iam.users;
  offer iam.ownership_transfers;
begin
  perform app_hidden.require_permission('ownership.transfer');
  select u.* into recipient
    from iam.organisation_users m join iam.users u on u.id = m.user_id
   where m.organisation_id = organisation and m.user_id = transfer_ownership.user_id and m.status = 'active'
     and m.user_id <> current_owner;
  if recipient.id is null then
    raise exception 'Not found: ownership goes to another active member of your organisation' using errcode = 'PT011';
  end if;
  -- One offer at a time: a new one replaces the previous.
  update iam.ownership_transfers t set cancelled_at = now()
   where t.organisation_id = organisation and t.accepted_at is null and t.cancelled_at is null;
  insert into iam.ownership_transfers (organisation_id, from_user_id, to_user_id)
  values (organisation, current_owner, recipient.id)
  returning * into offer;
  perform app_hidden.queue_mail('ownership_offer', recipient.email,
    coalesce(recipient.locale, app_hidden.organisation_locale(organisation)),
    jsonb_build_object(
      'organisationName', (select o.name from iam.organisations o where o.id = organisation),
      'organisationSlug', (select o.slug from iam.organisations o where o.id = organisation),
      'offeredBy', app_hidden.display_name(current_owner),
      'expiresAt', offer.expires_at),
    organisation, null);
  return offer;
end;
$$;
comment on function iam.transfer_ownership(uuid) is
  'Offers ownership to another active member (mailed to them); nothing changes until they accept it with '
  'acceptOwnership within 7 days. A new offer replaces the previous one. Needs ownership.transfer (the owner).';

create function iam.accept_ownership() returns iam.organisation_users
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  member uuid := app_hidden.current_user_id();
  offer iam.ownership_transfers;
  new_owner iam.organisation_users;
begin
  select t.* into offer from iam.ownership_transfers t
   where t.organisation_id = organisation and t.to_user_id = member
     and t.accepted_at is null and t.cancelled_at is null and t.expires_at > now()
   for update;
  if offer.id is null then
    raise exception 'Not found: no ownership offer is waiting for you in this organisation' using errcode = 'PT011';
  end if;
  -- The one who offered must still be the owner.
  update iam.organisation_users m set role = 'admin'
   where m.organisation_id = organisation and m.user_id = offer.from_user_id and m.role = 'owner';
  if not found then
    update iam.ownership_transfers t set cancelled_at = now() where t.organisation_id = organisation and t.id = offer.id;
    raise exception 'Not found: the member who offered ownership is no longer the owner' using errcode = 'PT011';
  end if;
  update iam.organisation_users m set role = 'owner'
   where m.organisation_id = organisation and m.user_id = member
  returning * into new_owner;
  update iam.ownership_transfers t set accepted_at = now() where t.organisation_id = organisation and t.id = offer.id;
  return new_owner;
end;
$$;
comment on function iam.accept_ownership() is
  'Accepts the ownership offered to you in this organisation: you become the owner, the previous owner an admin.';

grant execute on function iam.transfer_ownership(uuid), iam.accept_ownership() to :DATABASE_VISITOR;
