-- Loses no data: ownership offers are in iam.ownership_transfers (400's); an offer not accepted yet is no longer acceptable, ownership stays where it is.
-- Revert part of migrations/current/430-ownership-by-consent.sql (see README, "Migrations: rolling
-- one back"): drops acceptOwnership and the offering transfer_ownership (it returns an offer: a
-- return type cannot be replaced, so drop and create), and re-creates transfer_ownership as 000004
-- defined it (immediate transfer, returns the new owner's membership), with its comment and grant.
drop function iam.accept_ownership();
drop function iam.transfer_ownership(uuid);

create function iam.transfer_ownership(user_id uuid) returns iam.organisation_users
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  previous_owner uuid := app_hidden.current_user_id();
  new_owner iam.organisation_users;
begin
  perform app_hidden.require_permission('ownership.transfer');
  if not exists (
    select 1 from iam.organisation_users m
     where m.organisation_id = organisation and m.user_id = transfer_ownership.user_id and m.status = 'active'
       and m.user_id <> previous_owner
  ) then
    raise exception 'Not found: ownership goes to another active member of your organisation' using errcode = 'PT011';
  end if;
  update iam.organisation_users m set role = 'admin' where m.organisation_id = organisation and m.user_id = previous_owner;
  update iam.organisation_users m set role = 'owner'
   where m.organisation_id = organisation and m.user_id = transfer_ownership.user_id
  returning * into new_owner;
  return new_owner;
end;
$$;
comment on function iam.transfer_ownership(uuid) is
  'Makes another active member the owner; the previous owner becomes an admin. Needs ownership.transfer (the owner).';
grant execute on function iam.transfer_ownership(uuid) to :DATABASE_VISITOR;
