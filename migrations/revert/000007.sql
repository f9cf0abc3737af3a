--! Reverts: sha1:baafa318f7c29ec11d430091a63212b5eabb53a9

-- Reverts 000007 (membership by consent): back to the schema of the migration before it. What each part loses is
-- said at its head. Parts in reverse order of the migration's files (newest first).

--------------------------------------------------------------------------------
-- Loses: which accounts each organisation deletion deleted and which it kept (app_private.organisation_deletions.accounts_deleted, accounts_kept); the deletion records themselves stay.
-- Revert part of migrations/current/450-organisation-deletion.sql (see README, "Migrations: rolling
-- one back"): drops the two columns it added to the deletion record and re-creates
-- delete_organisation_data as 000004 defined it (same signature: create or replace keeps its
-- grants), with 000004's comment. Deletions after the revert follow 000004's rule again: every
-- member who belongs nowhere else goes with the organisation, whoever created the account.
alter table app_private.organisation_deletions drop column accounts_deleted, drop column accounts_kept;

create or replace function app_hidden.delete_organisation_data(organisation uuid, actor uuid) returns jsonb
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  tenant_table record;
  removed bigint;
  rows_removed jsonb := '{}';
  orphans uuid[];
  deletion app_private.organisation_deletions;
begin
  if not exists (select 1 from iam.organisations o where o.id = organisation) then
    raise exception 'Not found: no organisation with this id' using errcode = 'PT011';
  end if;
  for tenant_table in
    select format('%I.%I', n.nspname, c.relname) as name
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'organisation_id' and not a.attisdropped
     where n.nspname in ('iam', 'crm', 'outreach', 'tracking', 'app_private') and c.relkind in ('r', 'p')
     order by 1
  loop
    execute format('select count(*) from %s where organisation_id = $1', tenant_table.name) into removed using organisation;
    if removed > 0 then rows_removed := rows_removed || jsonb_build_object(tenant_table.name, removed); end if;
  end loop;
  select coalesce(array_agg(m.user_id), '{}') into orphans
    from iam.organisation_users m
   where m.organisation_id = organisation
     and not exists (select 1 from iam.organisation_users other where other.user_id = m.user_id and other.organisation_id <> organisation);
  rows_removed := rows_removed || jsonb_build_object('iam.organisations', 1, 'iam.users', cardinality(orphans));
  delete from iam.organisations o where o.id = organisation;
  delete from iam.users u where u.id = any(orphans);
  insert into app_private.organisation_deletions (organisation_id, deleted_by_user_id, rows_removed)
  values (organisation, actor, rows_removed)
  returning * into deletion;
  return jsonb_build_object('organisationId', organisation, 'deletedAt', deletion.deleted_at, 'rowsRemoved', rows_removed);
end;
$$;
comment on function app_hidden.delete_organisation_data(uuid, uuid) is
  'Deletes an organisation with all its rows (foreign keys cascade from iam.organisations) and its users who belong '
  'nowhere else, and records the deletion. Used by deleteCurrentOrganisation and the operator CLI.';

--------------------------------------------------------------------------------
-- Loses no data: the outbox (and its messages) is 400's; mail still pending is no longer sent, as no function claims it.
-- Revert part of migrations/current/440-mail-outbox.sql (see README, "Migrations: rolling one
-- back"): drops the mailer's functions (claim_mail, mail_sent, mail_failed) and their result type.
-- A mailer still running after the revert fails on its next claim (the function is gone).
drop function app_hidden.claim_mail(text, integer, integer);
drop function app_hidden.mail_sent(uuid, text);
drop function app_hidden.mail_failed(uuid, text, text, boolean, integer);
drop type app_hidden.claimed_mail;

--------------------------------------------------------------------------------
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

--------------------------------------------------------------------------------
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

--------------------------------------------------------------------------------
-- Loses no data (the verification and reset links are in 400's app_private.tokens); slugs drawn with a random suffix stay as they are.
-- Revert part of migrations/current/410-sign-up-and-verified-email.sql (see README, "Migrations:
-- rolling one back"): drops the mail helpers, verifyEmail, the password reset, the operator's
-- create_verified_organisation, create_organisation and the six-argument register, re-creates
-- register(text, text, text, integer) and unique_slug as 000004 defined them (with their comments
-- and register's grant), and puts back 000004's check_password and login (same signatures: create
-- or replace keeps their grants) with their comments. After the revert, 000004's rules apply again:
-- an account whose email was never verified can sign in with its password, sign-up opens a session
-- at once and refuses a taken email, and passwords up to 200 characters are accepted again.
drop function app_hidden.register(text, text, text, text, text, integer);
drop function app_hidden.create_verified_organisation(text, text, text);
drop function app_hidden.reset_password(text, text);
drop function app_hidden.request_password_reset(text);
drop function app_hidden.verify_email(text);
drop function app_hidden.user_token(text, text);
drop function app_hidden.create_organisation(text);
drop function app_hidden.queue_mail(text, text, text, jsonb, uuid, uuid);
drop function app_hidden.display_name(uuid);
drop function app_hidden.organisation_locale(uuid);

create or replace function app_hidden.check_password(password text, email text) returns void
  language plpgsql immutable
  set search_path = pg_catalog, pg_temp
as $$
begin
  if password is null or length(password) < 10 then
    raise exception 'Weak password: use at least 10 characters' using errcode = 'PT020';
  end if;
  if length(password) > 200 then
    raise exception 'Weak password: use at most 200 characters' using errcode = 'PT020';
  end if;
  if password !~ '[A-Za-z]' or password !~ '[^A-Za-z]' then
    raise exception 'Weak password: mix letters with digits or symbols' using errcode = 'PT020';
  end if;
  if position(lower(split_part(email, '@', 1)) in lower(password)) > 0 then
    raise exception 'Weak password: it must not contain your email address' using errcode = 'PT020';
  end if;
end;
$$;
comment on function app_hidden.check_password(text, text) is 'The password rules: 10 to 200 characters, letters and non-letters, not containing the email''s name.';

create function app_hidden.unique_slug(organisation_name text) returns text
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  base text := left(trim(both '-' from regexp_replace(lower(organisation_name), '[^a-z0-9]+', '-', 'g')), 80);
  candidate text;
  suffix integer := 1;
begin
  if base = '' then base := 'organisation'; end if;
  candidate := base;
  while exists (select 1 from iam.organisations o where o.slug = candidate) loop
    suffix := suffix + 1;
    candidate := base || '-' || suffix;
  end loop;
  return candidate;
end;
$$;
comment on function app_hidden.unique_slug(text) is 'A URL-safe slug from an organisation name, numbered (-2, -3…) until unused.';

create function app_hidden.register(email text, password text, organisation_name text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  new_user uuid;
  existing_user uuid;
  has_password boolean;
  new_organisation uuid;
begin
  email := trim(email);
  if email is null or email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(email) > 255 then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  if organisation_name is null or length(trim(organisation_name)) not between 1 and 200 then
    raise exception 'Invalid input: the organisation name must be 1 to 200 characters' using errcode = '22023';
  end if;
  perform app_hidden.check_password(password, email);
  -- operator(public.=): citext's case-insensitive equality, not found through the pinned search_path.
  select u.id, s.password_hash is not null into existing_user, has_password
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) register.email::public.citext;
  if has_password then
    raise exception 'Already exists: an account with this email already exists; sign in instead' using errcode = 'PT021';
  end if;
  if existing_user is not null then
    -- Someone invited this email: signing up completes that account and accepts its invitations.
    new_user := existing_user;
    update iam.organisation_users m set status = 'active' where m.user_id = new_user and m.status = 'invited';
  else
    insert into iam.users (email) values (register.email) returning id into new_user;
  end if;
  perform app_hidden.set_password(new_user, password);
  insert into iam.organisations (name, slug) values (trim(organisation_name), app_hidden.unique_slug(organisation_name))
  returning id into new_organisation;
  insert into iam.organisation_users (organisation_id, user_id, role) values (new_organisation, new_user, 'owner');
  return app_hidden.start_session(new_user, new_organisation, lifetime_seconds);
end;
$$;
comment on function app_hidden.register(text, text, text, integer) is
  'Sign-up in one transaction: the user (or an invited user''s account), a new organisation with a unique slug, '
  'the owner membership and a session. Security definer because it runs for anonymous callers.';
grant execute on function app_hidden.register(text, text, text, integer) to :DATABASE_ANONYMOUS, :DATABASE_VISITOR;

create or replace function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_user uuid;
  stored_hash text;
  -- A bcrypt hash of nothing anyone knows: unknown emails are hashed against it, so that a wrong
  -- email and a wrong password take the same path and the same time.
  decoy_hash constant text := '$2a$10$4yKkRrbZHa6kr4uJkWg.UeT4Cc2C1ZKZ1nLHj6mZ9bq9xXyG5sF1m';
  password_matches boolean;
  memberships record;
  chosen uuid;
  chosen_status text;
begin
  select u.id, s.password_hash into found_user, stored_hash
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) trim(coalesce(login.email, ''))::public.citext;
  password_matches := public.crypt(coalesce(password, ''), coalesce(stored_hash, decoy_hash)) = coalesce(stored_hash, decoy_hash)
                      and stored_hash is not null;
  if not password_matches then
    raise exception 'Invalid email or password' using errcode = 'PT030';
  end if;
  if organisation_slug is not null then
    select o.id, o.status into chosen, chosen_status
      from iam.organisation_users m join iam.organisations o on o.id = m.organisation_id
     where m.user_id = found_user and m.status = 'active' and o.slug = organisation_slug;
    if chosen is null then
      raise exception 'Unknown organisation: you are not an active member of an organisation named "%"', organisation_slug
        using errcode = 'PT031';
    end if;
  else
    select count(*) as active, min(o.id::text)::uuid as only_one, min(o.status) as status,
           string_agg(o.slug, ', ' order by o.slug) as slugs
      into memberships
      from iam.organisation_users m join iam.organisations o on o.id = m.organisation_id
     where m.user_id = found_user and m.status = 'active';
    if memberships.active = 0 then
      raise exception 'No organisation: you are not an active member of any organisation' using errcode = 'PT031';
    end if;
    if memberships.active > 1 then
      raise exception 'Choose an organisation: you belong to several (%)', memberships.slugs using errcode = 'PT032';
    end if;
    chosen := memberships.only_one;
    chosen_status := memberships.status;
  end if;
  if chosen_status <> 'active' then
    raise exception 'Organisation suspended: its members cannot use it until it is reactivated' using errcode = 'PT006';
  end if;
  return app_hidden.start_session(found_user, chosen, lifetime_seconds);
end;
$$;
comment on function app_hidden.login(text, text, text, integer) is
  'Checks email and password (the same answer and the same bcrypt work whether the email exists or not) and opens a '
  'session in the named organisation, or the only one. Security definer because it runs for anonymous callers.';

--------------------------------------------------------------------------------
-- Loses: when each account verified its email and its mail language (iam.users.email_verified_at, locale), where each account came from (app_private.account_origins), every invitation still stored (accepted or revoked; open ones 420's revert made memberships again), every ownership offer, every mailed link's token and the whole mail outbox (unsent mail is never sent).
-- Revert part of migrations/current/400-membership-tables.sql (see README, "Migrations: rolling
-- one back"): drops the account-origin trigger and its function, the outbox, tokens, ownership
-- offers, invitations (with their status function) and account origins tables, with their
-- indexes, policies and grants, and the two columns it added to iam.users (with their comments and
-- the visitor's update grant on locale; the grant on first_name and last_name is 000001's and stays).
-- Applying 400 again back-fills email_verified_at for every account with a password.
drop trigger _200_record_account_origin on iam.organisation_users;
drop function app_hidden.tg_organisation_users__record_account_origin();
drop table app_private.mail_outbox;
drop table app_private.tokens;
drop table iam.ownership_transfers;
drop function iam.invitations_status(iam.invitations);
drop table iam.invitations;
drop table app_private.account_origins;
alter table iam.users drop column email_verified_at, drop column locale;
