-- Loses: who invited each open invitation and when it was sent, and its link (it becomes an 'invited' membership again); accepted and revoked invitations go with 400's table.
-- Revert part of migrations/current/420-invitations.sql (see README, "Migrations: rolling one
-- back"): drops the invitation functions (inviteMember returns an invitation: a return type cannot
-- be replaced, so drop and create) and re-creates invite_member as 000004 defined it, with its
-- comment and grant. The data it converted comes back as far as it can: every open invitation
-- (neither accepted nor revoked; expired ones too, since the forward migration converted invited
-- memberships into invitations that expire at once and 000004's memberships never expired) becomes
-- an 'invited' membership with its role and creation time again, and an address without an account
-- gets an account of its own again (email only, as 000004's inviteMember created them), then the
-- invitation is removed. Not restored: the ids and creation times of the placeholder accounts the
-- forward migration deleted (new ones are created); the 'owner' role of an invited membership (the
-- forward migration made it admin; 000004 could not invite owners anyway). An invitation to an
-- address whose account has a password also becomes 'invited', not 'active' as 000004's
-- inviteMember would have made it (nobody accepted it): 000004's sign-up does not activate it, so
-- an admin removes that member and invites them again to let them in.
drop function iam.invite_member(text, text);
drop function iam.resend_invitation(uuid);
drop function iam.revoke_invitation(uuid);
drop function iam.accept_invitation(text);
drop function app_hidden.open_invitation(text);
drop function app_hidden.join_invitation(iam.invitations, uuid);
drop function app_hidden.queue_invitation_mail(iam.invitations);

insert into iam.users (email)
select distinct i.email
  from iam.invitations i
 where i.accepted_at is null and i.revoked_at is null
   and not exists (select 1 from iam.users u where u.email operator(public.=) i.email)
on conflict do nothing;
insert into iam.organisation_users (organisation_id, user_id, role, status, created_at)
select i.organisation_id, u.id, i.role, 'invited', i.created_at
  from iam.invitations i join iam.users u on u.email operator(public.=) i.email
 where i.accepted_at is null and i.revoked_at is null
on conflict (organisation_id, user_id) do nothing;
-- Their tokens and unsent mail go with them (foreign keys cascade).
delete from iam.invitations i where i.accepted_at is null and i.revoked_at is null;

create function iam.invite_member(email text, role text) returns iam.organisation_users
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  invited uuid;
  has_password boolean;
  membership iam.organisation_users;
begin
  perform app_hidden.require_permission('members.manage');
  if role is null or role not in ('admin', 'member', 'viewer') then
    raise exception 'Invalid input: role must be admin, member or viewer (use transferOwnership for owner)' using errcode = '22023';
  end if;
  email := trim(email);
  if email is null or email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  select u.id, s.password_hash is not null into invited, has_password
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) invite_member.email::public.citext;
  if invited is null then
    insert into iam.users (email) values (invite_member.email) returning id into invited;
    has_password := false;
  end if;
  insert into iam.organisation_users (organisation_id, user_id, role, status)
  values (organisation, invited, invite_member.role, case when has_password then 'active' else 'invited' end)
  on conflict (organisation_id, user_id) do nothing
  returning * into membership;
  if membership.user_id is null then
    raise exception 'Already exists: this user is already a member of the organisation' using errcode = 'PT021';
  end if;
  return membership;
end;
$$;
comment on function iam.invite_member(text, text) is
  'Adds a user to your organisation with a role (admin, member or viewer): active at once when the account exists, '
  'invited (active after sign-up) otherwise. Needs the members.manage permission.';
grant execute on function iam.invite_member(text, text) to :DATABASE_VISITOR;
