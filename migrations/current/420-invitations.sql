-- Membership by consent (issue 11), part 3: invitations by secret link. inviteMember answers the
-- same whether the address has an account or not and never names anybody; only the link's holder,
-- verified for the invited address, becomes a member (acceptInvitation, or register with the token).
-- Idempotent: it drops what it creates, then creates or replaces.

drop function if exists iam.invite_member(text, text);
drop function if exists iam.resend_invitation(uuid);
drop function if exists iam.revoke_invitation(uuid);
drop function if exists iam.accept_invitation(text);
drop function if exists app_hidden.open_invitation(text);
drop function if exists app_hidden.join_invitation(iam.invitations, uuid);
drop function if exists app_hidden.queue_invitation_mail(iam.invitations);

-- Memberships "invited" by the old inviteMember (activated by whoever signed up with the address:
-- the hijack) become invitations without a link; a member with members.manage resends them.
insert into iam.invitations (organisation_id, email, role, created_at, expires_at)
select m.organisation_id, u.email, case when m.role = 'owner' then 'admin' else m.role end, m.created_at, now()
  from iam.organisation_users m join iam.users u on u.id = m.user_id
 where m.status = 'invited'
on conflict do nothing;
delete from iam.organisation_users m where m.status = 'invited';
-- The placeholder accounts the old inviteMember created (no password, no membership left).
delete from iam.users u
 where not exists (select 1 from app_private.user_secrets s where s.user_id = u.id and s.password_hash is not null)
   and not exists (select 1 from iam.organisation_users m where m.user_id = u.id)
   and u.email_verified_at is null;

create function app_hidden.queue_invitation_mail(invitation iam.invitations) returns uuid
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  token uuid;
begin
  -- One token row per invitation; each mail draws a new token for it, so only the latest link works.
  select t.id into token from app_private.tokens t
   where t.organisation_id = invitation.organisation_id and t.invitation_id = invitation.id;
  if token is null then
    insert into app_private.tokens (purpose, organisation_id, invitation_id, expires_at)
    values ('invitation', invitation.organisation_id, invitation.id, invitation.expires_at)
    returning id into token;
  else
    update app_private.tokens t set expires_at = invitation.expires_at where t.id = token;
  end if;
  -- A message still waiting for the previous link is not worth sending any more.
  update app_private.mail_outbox b set status = 'cancelled' where b.token_id = token and b.status = 'pending';
  return app_hidden.queue_mail('invitation', invitation.email, app_hidden.organisation_locale(invitation.organisation_id),
    jsonb_build_object(
      'organisationName', (select o.name from iam.organisations o where o.id = invitation.organisation_id),
      'inviterName', app_hidden.display_name(invitation.invited_by_user_id),
      'role', invitation.role,
      'expiresAt', invitation.expires_at),
    invitation.organisation_id, token);
end;
$$;
comment on function app_hidden.queue_invitation_mail(iam.invitations) is
  'Queues the mail of an invitation (its link''s token is drawn when it is sent); earlier unsent ones are cancelled.';

create function iam.invite_member(email text, role text) returns iam.invitations
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  organisation uuid := app_hidden.current_organisation_id();
  inviter uuid := app_hidden.current_user_id();
  address text := trim(email);
  invitation iam.invitations;
begin
  perform app_hidden.require_permission('members.manage');
  if not exists (select 1 from iam.users u where u.id = inviter and u.email_verified_at is not null) then
    raise exception 'Email not verified: confirm your own email address before inviting anyone' using errcode = 'PT042';
  end if;
  if invite_member.role is null or invite_member.role not in ('admin', 'member', 'viewer') then
    raise exception 'Invalid input: role must be admin, member or viewer (use transferOwnership for owner)' using errcode = '22023';
  end if;
  if address is null or address !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(address) > 255 then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  -- Only this organisation's own members are looked up: nothing is said about accounts elsewhere.
  if exists (
    select 1 from iam.organisation_users m join iam.users u on u.id = m.user_id
     where m.organisation_id = organisation and m.status = 'active' and u.email operator(public.=) address::public.citext
  ) then
    raise exception 'Already exists: this address belongs to a member of your organisation' using errcode = 'PT021';
  end if;
  -- An expired invitation no longer blocks a new one.
  update iam.invitations i set revoked_at = now()
   where i.organisation_id = organisation and i.email operator(public.=) address::public.citext
     and i.accepted_at is null and i.revoked_at is null and i.expires_at <= now();
  insert into iam.invitations (organisation_id, email, role, invited_by_user_id)
  values (organisation, address, invite_member.role, inviter)
  on conflict (organisation_id, email) where accepted_at is null and revoked_at is null do nothing
  returning * into invitation;
  if invitation.id is null then
    raise exception 'Already exists: an invitation to this address is open; resend or revoke it' using errcode = 'PT021';
  end if;
  perform app_hidden.queue_invitation_mail(invitation);
  return invitation;
end;
$$;
comment on function iam.invite_member(text, text) is
  'Invites an address to join your organisation with a role (admin, member or viewer): mails a secret link valid 7 '
  'days. The answer is the same whether the address has an account. Needs members.manage and a verified email.';

create function iam.resend_invitation(invitation_id uuid) returns iam.invitations
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  invitation iam.invitations;
begin
  perform app_hidden.require_permission('members.manage');
  update iam.invitations i set expires_at = now() + interval '7 days'
   where i.organisation_id = organisation and i.id = resend_invitation.invitation_id
     and i.accepted_at is null and i.revoked_at is null
  returning * into invitation;
  if invitation.id is null then
    raise exception 'Not found: no open invitation with this id in your organisation' using errcode = 'PT011';
  end if;
  perform app_hidden.queue_invitation_mail(invitation);
  return invitation;
end;
$$;
comment on function iam.resend_invitation(uuid) is
  'Mails an open invitation again with a new link (the previous link stops working) valid 7 more days. Needs members.manage.';

create function iam.revoke_invitation(invitation_id uuid) returns iam.invitations
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  invitation iam.invitations;
begin
  perform app_hidden.require_permission('members.manage');
  update iam.invitations i set revoked_at = now()
   where i.organisation_id = organisation and i.id = revoke_invitation.invitation_id
     and i.accepted_at is null and i.revoked_at is null
  returning * into invitation;
  if invitation.id is null then
    raise exception 'Not found: no open invitation with this id in your organisation' using errcode = 'PT011';
  end if;
  update app_private.tokens t set used_at = now(), token_hash = null
   where t.organisation_id = organisation and t.invitation_id = invitation.id;
  update app_private.mail_outbox b set status = 'cancelled'
   where b.status = 'pending' and b.token_id in (
     select t.id from app_private.tokens t where t.organisation_id = organisation and t.invitation_id = invitation.id);
  return invitation;
end;
$$;
comment on function iam.revoke_invitation(uuid) is 'Revokes an open invitation: its link stops working at once. Needs members.manage.';

create function app_hidden.open_invitation(token text) returns iam.invitations
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  invitation iam.invitations;
begin
  select i.* into invitation
    from app_private.tokens t
    join iam.invitations i on i.organisation_id = t.organisation_id and i.id = t.invitation_id
   where t.token_hash = public.digest(coalesce(token, ''), 'sha256') and t.purpose = 'invitation' and t.used_at is null
   for update of i;
  if invitation.id is null or invitation.accepted_at is not null or invitation.revoked_at is not null then
    raise exception 'Invitation invalid: this link is unknown, was revoked or was already used' using errcode = 'PT040';
  end if;
  if invitation.expires_at <= now() then
    raise exception 'Invitation expired: ask the organisation for a new invitation' using errcode = 'PT041';
  end if;
  return invitation;
end;
$$;
comment on function app_hidden.open_invitation(text) is
  'The open invitation of a link''s token (locked), or INVITATION_INVALID / INVITATION_EXPIRED.';

create function app_hidden.join_invitation(invitation iam.invitations, member uuid) returns iam.organisation_users
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  membership iam.organisation_users;
begin
  insert into iam.organisation_users as m (organisation_id, user_id, role, status)
  values (invitation.organisation_id, member, invitation.role, 'active')
  on conflict (organisation_id, user_id) do update
    set status = 'active', role = case when m.role = 'owner' then m.role else excluded.role end
    where m.status <> 'active'
  returning * into membership;
  if membership.user_id is null then
    raise exception 'Already exists: you are already a member of this organisation' using errcode = 'PT021';
  end if;
  update iam.invitations i set accepted_at = now(), accepted_by_user_id = member
   where i.organisation_id = invitation.organisation_id and i.id = invitation.id;
  update app_private.tokens t set used_at = now()
   where t.organisation_id = invitation.organisation_id and t.invitation_id = invitation.id;
  update app_private.mail_outbox b set status = 'cancelled'
   where b.status = 'pending' and b.token_id in (
     select t.id from app_private.tokens t
      where t.organisation_id = invitation.organisation_id and t.invitation_id = invitation.id);
  return membership;
end;
$$;
comment on function app_hidden.join_invitation(iam.invitations, uuid) is
  'Makes the user an active member with the invited role and closes the invitation (its link stops working).';

create function iam.accept_invitation(token text) returns iam.organisation_users
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  member uuid := app_hidden.current_user_id();
  invitation iam.invitations := app_hidden.open_invitation(token);
  account iam.users;
begin
  select u.* into account from iam.users u where u.id = member;
  if account.email operator(public.<>) invitation.email then
    raise exception 'Invitation invalid: it was sent to another email address than yours' using errcode = 'PT040';
  end if;
  if account.email_verified_at is null then
    raise exception 'Email not verified: confirm your email address before accepting an invitation' using errcode = 'PT042';
  end if;
  return app_hidden.join_invitation(invitation, member);
end;
$$;
comment on function iam.accept_invitation(text) is
  'Accepts an invitation with the token of its link, for the signed-in user whose verified email it was sent to; '
  'then switchOrganisation signs in to the new organisation.';

grant execute on function iam.invite_member(text, text), iam.resend_invitation(uuid), iam.revoke_invitation(uuid),
  iam.accept_invitation(text) to :DATABASE_VISITOR;
