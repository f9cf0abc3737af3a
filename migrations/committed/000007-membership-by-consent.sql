--! Previous: sha1:15bf754482c4d3b9da1b171e68e9686d03d568a5
--! Hash: sha1:baafa318f7c29ec11d430091a63212b5eabb53a9
--! Message: Membership by consent

--! split: 400-membership-tables.sql
-- Membership by consent (issue 11), part 1: the tables. Verified email and a locale on accounts,
-- where each account comes from (what deleting an organisation may delete), single-use tokens
-- stored only as hashes, invitations, ownership offers, and the mail outbox that carries every
-- message to the mailer in the same transaction as the event that causes it.
-- Idempotent: it drops what it creates (except the two account columns below, kept on purpose).

drop trigger if exists _200_record_account_origin on iam.organisation_users;
drop function if exists app_hidden.tg_organisation_users__record_account_origin() cascade;
drop table if exists app_private.mail_outbox cascade;
drop table if exists app_private.tokens cascade;
drop table if exists iam.ownership_transfers cascade;
drop function if exists iam.invitations_status(iam.invitations) cascade;
drop table if exists iam.invitations cascade;
drop table if exists app_private.account_origins cascade;

--------------------------------------------------------------------------------
-- Accounts: verified email and preferred language.
--
-- These two columns are added once and never dropped by a re-run: dropping them would forget who
-- verified (and the one-time back-fill below would then vouch for accounts nobody verified).
do $$
begin
  if not exists (
    select 1 from pg_catalog.pg_attribute
     where attrelid = 'iam.users'::regclass and attname = 'email_verified_at' and not attisdropped
  ) then
    alter table iam.users add column email_verified_at timestamptz;
    -- Accounts that signed in before verification existed keep working: they are taken as verified
    -- (a squat made before this migration can be reclaimed by its owner with a password reset).
    update iam.users u set email_verified_at = u.created_at
     where exists (select 1 from app_private.user_secrets s where s.user_id = u.id and s.password_hash is not null);
  end if;
  if not exists (
    select 1 from pg_catalog.pg_attribute where attrelid = 'iam.users'::regclass and attname = 'locale' and not attisdropped
  ) then
    alter table iam.users add column locale text constraint users_locale_valid check (locale in ('en', 'fr'));
  end if;
end;
$$;
grant update (first_name, last_name, locale) on iam.users to :DATABASE_VISITOR;
comment on column iam.users.email_verified_at is
  'When the user proved they receive mail at this address (a link we mailed, or an operator vouching); null until then.';
comment on column iam.users.locale is 'Language of the mails sent to this user: en or fr (null: English).';

--------------------------------------------------------------------------------
-- Where each account comes from: the organisation it was created for (its first membership), and
-- whether it ever joined another. Deleting an organisation deletes only the accounts created for
-- it that never joined another one; any other account just loses that membership.

create table app_private.account_origins (
  user_id uuid not null primary key constraint account_origins_user_fk references iam.users on delete cascade,
  -- Deliberately not named organisation_id, nor a foreign key: it outlives its organisation.
  created_for_organisation_id uuid not null,
  joined_another_at timestamptz
);
create index idx_account_origins_created_for on app_private.account_origins (created_for_organisation_id);
alter table app_private.account_origins enable row level security;
comment on table app_private.account_origins is
  'Which organisation each account was created for, and when it first joined another: what an organisation''s '
  'deletion may delete. Unreachable by every API role (it says where else a user has been).';

insert into app_private.account_origins (user_id, created_for_organisation_id, joined_another_at)
select m.user_id,
       (array_agg(m.organisation_id order by m.created_at, m.organisation_id))[1],
       case when count(*) > 1 then min(m.created_at) end
  from iam.organisation_users m
 group by m.user_id;

create function app_hidden.tg_organisation_users__record_account_origin() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
begin
  insert into app_private.account_origins as o (user_id, created_for_organisation_id)
  values (new.user_id, new.organisation_id)
  on conflict (user_id) do update set joined_another_at = coalesce(o.joined_another_at, now())
   where o.created_for_organisation_id <> excluded.created_for_organisation_id;
  return null;
end;
$$;
comment on function app_hidden.tg_organisation_users__record_account_origin() is
  'Trigger: an account''s first membership names the organisation it was created for; a membership elsewhere marks '
  'it as having joined another. Security definer because app_private is closed to the roles that add members.';
create trigger _200_record_account_origin after insert on iam.organisation_users
  for each row execute function app_hidden.tg_organisation_users__record_account_origin();

--------------------------------------------------------------------------------
-- Invitations: an email, a role, who invited, until when. The secret link's token is in
-- app_private.tokens (as a hash); nobody becomes a member without it.

create table iam.invitations (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint invitations_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  email public.citext not null
    constraint invitations_email_format check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' and length(email) <= 255),
  role text not null constraint invitations_role_valid check (role in ('admin', 'member', 'viewer')),
  invited_by_user_id uuid,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '7 days',
  last_sent_at timestamptz,
  accepted_at timestamptz,
  accepted_by_user_id uuid,
  revoked_at timestamptz,
  primary key (organisation_id, id),
  constraint invitations_invited_by_fk foreign key (organisation_id, invited_by_user_id)
    references iam.organisation_users (organisation_id, user_id) on delete set null (invited_by_user_id),
  constraint invitations_accepted_by_fk foreign key (organisation_id, accepted_by_user_id)
    references iam.organisation_users (organisation_id, user_id) on delete set null (accepted_by_user_id)
);
create index idx_invitations_invited_by on iam.invitations (organisation_id, invited_by_user_id);
create index idx_invitations_accepted_by on iam.invitations (organisation_id, accepted_by_user_id);
create unique index idx_invitations_one_open_per_email on iam.invitations (organisation_id, email)
  where accepted_at is null and revoked_at is null;
alter table iam.invitations enable row level security;
create policy select_own on iam.invitations for select
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('members.manage')));
create policy insert_own on iam.invitations for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('members.manage')));
create policy update_own on iam.invitations for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('members.manage')));
create policy delete_own on iam.invitations for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('members.manage')));
-- Read only: inviteMember, resendInvitation, revokeInvitation and acceptInvitation write them.
grant select on iam.invitations to :DATABASE_VISITOR;
comment on table iam.invitations is
  'An invitation to join the organisation with a role, mailed as a secret link valid 7 days. Listed, resent and '
  'revoked by members.manage; accepted only with the link.';
comment on column iam.invitations.email is 'The address the link was sent to; only an account verified for it can accept.';
comment on column iam.invitations.expires_at is 'After this the link no longer works; resending starts 7 more days.';
comment on column iam.invitations.last_sent_at is 'When the mailer last handed the invitation to the mail server.';
comment on constraint invitations_invited_by_fk on iam.invitations is E'@fieldName invitedBy\nThe member who invited.';
comment on constraint invitations_accepted_by_fk on iam.invitations is E'@fieldName acceptedBy\nWho accepted it.';

create function iam.invitations_status(invitation iam.invitations) returns text
  language sql stable
as $$
  select case
           when invitation.accepted_at is not null then 'accepted'
           when invitation.revoked_at is not null then 'revoked'
           when invitation.expires_at <= pg_catalog.now() then 'expired'
           else 'pending'
         end
$$;
comment on function iam.invitations_status(iam.invitations) is 'pending, accepted, revoked or expired.';
grant execute on function iam.invitations_status(iam.invitations) to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- Ownership offers: the owner offers, the member accepts; until then nothing changes.

create table iam.ownership_transfers (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint ownership_transfers_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  from_user_id uuid not null,
  to_user_id uuid not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '7 days',
  accepted_at timestamptz,
  cancelled_at timestamptz,
  primary key (organisation_id, id),
  constraint ownership_transfers_from_fk foreign key (organisation_id, from_user_id)
    references iam.organisation_users (organisation_id, user_id) on delete cascade,
  constraint ownership_transfers_to_fk foreign key (organisation_id, to_user_id)
    references iam.organisation_users (organisation_id, user_id) on delete cascade
);
create index idx_ownership_transfers_from on iam.ownership_transfers (organisation_id, from_user_id);
create index idx_ownership_transfers_to on iam.ownership_transfers (organisation_id, to_user_id);
create unique index idx_ownership_transfers_one_open on iam.ownership_transfers (organisation_id)
  where accepted_at is null and cancelled_at is null;
alter table iam.ownership_transfers enable row level security;
create policy select_own on iam.ownership_transfers for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on iam.ownership_transfers for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('ownership.transfer')));
create policy update_own on iam.ownership_transfers for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('ownership.transfer')));
create policy delete_own on iam.ownership_transfers for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('ownership.transfer')));
-- Read only: transferOwnership and acceptOwnership write them.
grant select on iam.ownership_transfers to :DATABASE_VISITOR;
comment on table iam.ownership_transfers is
  'The owner''s offer to hand ownership to another active member, who must accept it (acceptOwnership) within 7 days.';
comment on constraint ownership_transfers_from_fk on iam.ownership_transfers is E'@fieldName offeredBy\nThe owner who offered.';
comment on constraint ownership_transfers_to_fk on iam.ownership_transfers is E'@fieldName offeredTo\nThe member offered ownership.';

--------------------------------------------------------------------------------
-- Tokens of the secret links: email verification, password reset, invitations. Only a SHA-256
-- hash is ever stored; the token itself is drawn when the mailer sends the message
-- (app_hidden.claim_mail) and exists only in that mail.

create table app_private.tokens (
  id uuid not null default gen_random_uuid() primary key,
  purpose text not null constraint tokens_purpose_valid check (purpose in ('verify_email', 'reset_password', 'invitation')),
  user_id uuid constraint tokens_user_fk references iam.users on delete cascade,
  organisation_id uuid,
  invitation_id uuid,
  token_hash bytea constraint tokens_hash_unique unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  constraint tokens_invitation_fk foreign key (organisation_id, invitation_id)
    references iam.invitations (organisation_id, id) on delete cascade,
  constraint tokens_target check (case when purpose = 'invitation' then invitation_id is not null else user_id is not null end)
);
create index idx_tokens_user on app_private.tokens (user_id);
create index idx_tokens_invitation on app_private.tokens (organisation_id, invitation_id);
alter table app_private.tokens enable row level security;
comment on table app_private.tokens is
  'Single-use secrets of mailed links, stored only as SHA-256 hashes; unreachable by every API role.';
comment on column app_private.tokens.expires_at is
  'Until when the link works; the mailer moves it so that its full validity counts from the moment it is sent.';

--------------------------------------------------------------------------------
-- The mail outbox: written in the same transaction as the event, so a message is queued exactly
-- when its event commits. The mailer claims rows with FOR UPDATE SKIP LOCKED under a lease.

create table app_private.mail_outbox (
  id uuid not null default gen_random_uuid() primary key,
  organisation_id uuid constraint mail_outbox_organisation_fk references iam.organisations on delete cascade,
  kind text not null constraint mail_outbox_kind_valid check (
    kind in ('email_verification', 'account_exists', 'password_reset', 'password_changed', 'invitation', 'ownership_offer')
  ),
  recipient public.citext not null,
  locale text not null default 'en' constraint mail_outbox_locale_valid check (locale in ('en', 'fr')),
  -- What the template needs besides the link (names, role…); never a secret.
  params jsonb not null default '{}',
  token_id uuid constraint mail_outbox_token_fk references app_private.tokens on delete cascade,
  -- The same Message-ID on every attempt: a copy that got through twice is recognisably one message.
  message_id text not null default format('<%s@prospectflow.mail>', gen_random_uuid()),
  status text not null default 'pending'
    constraint mail_outbox_status_valid check (status in ('pending', 'sending', 'sent', 'failed', 'uncertain', 'cancelled')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_by text,
  lease_expires_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  sent_at timestamptz
);
create index idx_mail_outbox_due on app_private.mail_outbox (next_attempt_at) where status = 'pending';
create index idx_mail_outbox_leased on app_private.mail_outbox (lease_expires_at) where status = 'sending';
create index idx_mail_outbox_organisation on app_private.mail_outbox (organisation_id);
create index idx_mail_outbox_token on app_private.mail_outbox (token_id);
create index idx_mail_outbox_recipient on app_private.mail_outbox (recipient, kind, created_at);
alter table app_private.mail_outbox enable row level security;
comment on table app_private.mail_outbox is
  'Mail to send, queued in the transaction of its event (invitation, verification, reset, notice, ownership offer). '
  'pending → sending (leased) → sent; a failed attempt goes back to pending with backoff; a lease that ran out '
  'mid-send becomes uncertain and is never sent again automatically. Holds no token.';

--! split: 410-sign-up-and-verified-email.sql
-- Membership by consent (issue 11), part 2: queueing mail, sign-up that answers the same for a
-- taken email, verified email, password reset, login of verified accounts only, and organisation
-- slugs that neither race nor count (issue 10 item 5). Passwords longer than bcrypt's 72 bytes
-- are refused (WEAK_PASSWORD), not silently cut.
-- Idempotent: it drops what it creates, then creates or replaces.

drop function if exists app_hidden.register(text, text, text, integer);
drop function if exists app_hidden.register(text, text, text, text, text, integer);
drop function if exists app_hidden.unique_slug(text);
drop function if exists app_hidden.create_organisation(text);
drop function if exists app_hidden.create_verified_organisation(text, text, text);
drop function if exists app_hidden.verify_email(text);
drop function if exists app_hidden.request_password_reset(text);
drop function if exists app_hidden.reset_password(text, text);
drop function if exists app_hidden.queue_mail(text, text, text, jsonb, uuid, uuid);
drop function if exists app_hidden.organisation_locale(uuid);
drop function if exists app_hidden.user_token(text, text);
drop function if exists app_hidden.display_name(uuid);

--------------------------------------------------------------------------------
-- Mail: helpers every event uses to queue its message in its own transaction.

create function app_hidden.organisation_locale(organisation uuid) returns text
  language sql stable
  set search_path = pg_catalog, pg_temp
as $$
  select case when o.country_code in ('FR', 'BE', 'CH', 'LU', 'MC') then 'fr' else 'en' end
    from iam.organisations o where o.id = organisation
$$;
comment on function app_hidden.organisation_locale(uuid) is
  'The language of mail sent on behalf of an organisation: French for French-speaking countries, English otherwise.';

create function app_hidden.display_name(user_id uuid) returns text
  language sql stable
  set search_path = pg_catalog, pg_temp
as $$
  select coalesce(nullif(trim(concat_ws(' ', u.first_name, u.last_name)), ''), u.email::text)
    from iam.users u where u.id = display_name.user_id
$$;
comment on function app_hidden.display_name(uuid) is 'How a member is named in mail: first and last name, or their email.';

create function app_hidden.queue_mail(kind text, recipient text, locale text, params jsonb, organisation uuid, token uuid)
  returns uuid
  language sql volatile
  set search_path = pg_catalog, pg_temp
as $$
  insert into app_private.mail_outbox (kind, recipient, locale, params, organisation_id, token_id)
  values (kind, recipient, coalesce(locale, 'en'), coalesce(params, '{}'), organisation, token)
  returning id
$$;
comment on function app_hidden.queue_mail(text, text, text, jsonb, uuid, uuid) is
  'Queues a message in the outbox, in the caller''s transaction: it is sent if and only if the event commits.';

--------------------------------------------------------------------------------
-- Passwords and organisations.

create or replace function app_hidden.check_password(password text, email text) returns void
  language plpgsql immutable
  set search_path = pg_catalog, pg_temp
as $$
begin
  if password is null or length(password) < 10 then
    raise exception 'Weak password: use at least 10 characters' using errcode = 'PT020';
  end if;
  -- bcrypt reads only the first 72 bytes: a longer password would be cut without anyone knowing.
  if octet_length(password) > 72 then
    raise exception 'Weak password: use at most 72 bytes (about 72 letters or digits; accented letters and emoji count 2 to 4)'
      using errcode = 'PT020';
  end if;
  if password !~ '[A-Za-z]' or password !~ '[^A-Za-z]' then
    raise exception 'Weak password: mix letters with digits or symbols' using errcode = 'PT020';
  end if;
  if position(lower(split_part(email, '@', 1)) in lower(password)) > 0 then
    raise exception 'Weak password: it must not contain your email address' using errcode = 'PT020';
  end if;
end;
$$;
comment on function app_hidden.check_password(text, text) is
  'The password rules: 10 characters to 72 bytes (bcrypt''s limit), letters and non-letters, not containing the email''s name.';

create function app_hidden.create_organisation(organisation_name text) returns uuid
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  base text := left(trim(both '-' from regexp_replace(lower(organisation_name), '[^a-z0-9]+', '-', 'g')), 80);
  candidate text;
  created uuid;
begin
  if base = '' then base := 'organisation'; end if;
  candidate := base;
  loop
    -- ON CONFLICT waits for a concurrent sign-up holding the same slug, then tries the next
    -- candidate instead of failing; a random suffix says nothing about how many share the name.
    insert into iam.organisations (name, slug) values (trim(organisation_name), candidate)
    on conflict (slug) do nothing
    returning id into created;
    exit when created is not null;
    candidate := base || '-' || substr(encode(public.gen_random_bytes(4), 'hex'), 1, 6);
  end loop;
  return created;
end;
$$;
comment on function app_hidden.create_organisation(text) is
  'Creates an organisation with a URL-safe slug from its name (the name itself, or the name and a random suffix when '
  'taken); safe under concurrent sign-ups with one name.';

--------------------------------------------------------------------------------
-- Sign-up.

create function app_hidden.register(
  email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer
) returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  address text := trim(email);
  chosen_locale text := nullif(trim(locale), '');
  existing_user uuid;
  existing_hash text;
  existing_verified boolean;
  new_user uuid;
  new_organisation uuid;
  token uuid;
  invitation iam.invitations;
  nothing app_hidden.session_grant;
begin
  if address is null or address !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(address) > 255 then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  if chosen_locale is not null and chosen_locale not in ('en', 'fr') then
    raise exception 'Invalid input: locale must be en or fr' using errcode = '22023';
  end if;

  if invitation_token is not null then
    -- Through an invitation: the link proves the mailbox, so the account is verified at once.
    invitation := app_hidden.open_invitation(invitation_token);
    if invitation.email operator(public.<>) address::public.citext then
      raise exception 'Invitation invalid: this invitation was sent to another email address' using errcode = 'PT040';
    end if;
    if organisation_name is not null then
      raise exception 'Invalid input: leave organisationName out when signing up with an invitation (you join the inviting organisation)'
        using errcode = '22023';
    end if;
    select u.id, s.password_hash, u.email_verified_at is not null into existing_user, existing_hash, existing_verified
      from iam.users u left join app_private.user_secrets s on s.user_id = u.id
     where u.email operator(public.=) address::public.citext
     for update of u;
    if existing_hash is not null and existing_verified then
      -- A verified account exists: only its own password may join it (nobody else's account is touched).
      if public.crypt(coalesce(password, ''), existing_hash) <> existing_hash then
        raise exception 'Already exists: an account with this email exists; sign in and use acceptInvitation, or reset its password'
          using errcode = 'PT021';
      end if;
      new_user := existing_user;
    else
      perform app_hidden.check_password(password, address);
      if existing_user is null then
        insert into iam.users (email, locale) values (address, chosen_locale) returning id into new_user;
      else
        -- An account nobody ever proved this mailbox for (a squat, or the holder's own unconfirmed
        -- sign-up): the link proves it now, so its holder sets the password. It never signed in.
        new_user := existing_user;
        update app_private.sessions s set revoked_at = now() where s.user_id = new_user and s.revoked_at is null;
      end if;
      perform app_hidden.set_password(new_user, password);
    end if;
    update iam.users u set email_verified_at = coalesce(u.email_verified_at, now()) where u.id = new_user;
    perform app_hidden.join_invitation(invitation, new_user);
    return app_hidden.start_session(new_user, invitation.organisation_id, lifetime_seconds);
  end if;

  if organisation_name is null or length(trim(organisation_name)) not between 1 and 200 then
    raise exception 'Invalid input: the organisation name must be 1 to 200 characters' using errcode = '22023';
  end if;
  perform app_hidden.check_password(password, address);
  -- operator(public.=): citext's case-insensitive equality, not found through the pinned search_path.
  insert into iam.users (email, locale) values (address, chosen_locale)
  on conflict (email) do nothing
  returning id into new_user;
  if new_user is null then
    -- Taken: the same answer as a new account, the same bcrypt work, and a notice to the address's
    -- owner instead of a verification link. Nothing about the existing account changes.
    perform public.crypt(coalesce(password, ''), public.gen_salt('bf', 10));
    -- At most one notice per address per hour: signing up with somebody's address again and again
    -- must not flood their mailbox.
    perform app_hidden.queue_mail('account_exists', u.email, coalesce(u.locale, chosen_locale), '{}', null, null)
       from iam.users u
      where u.email operator(public.=) address::public.citext
        and not exists (
          select 1 from app_private.mail_outbox b
           where b.kind = 'account_exists' and b.recipient operator(public.=) u.email
             and b.created_at > now() - interval '1 hour');
    return nothing;
  end if;
  perform app_hidden.set_password(new_user, password);
  new_organisation := app_hidden.create_organisation(organisation_name);
  insert into iam.organisation_users (organisation_id, user_id, role) values (new_organisation, new_user, 'owner');
  insert into app_private.tokens (purpose, user_id, expires_at) values ('verify_email', new_user, now() + interval '2 days')
  returning id into token;
  perform app_hidden.queue_mail('email_verification', address, chosen_locale,
    jsonb_build_object('organisationName', trim(organisation_name)), null, token);
  return nothing;
end;
$$;
comment on function app_hidden.register(text, text, text, text, text, integer) is
  'Sign-up. Without an invitation: a new, unverified account with its own organisation and a verification mail, '
  'or, for a taken email, only a notice to its owner; both return no session and look the same. With an invitation '
  'token: a verified account (or the existing one, with its password) joins the inviting organisation and gets a '
  'session. Security definer because it runs for anonymous callers.';

create or replace function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_user uuid;
  stored_hash text;
  verified boolean;
  -- A bcrypt hash of nothing anyone knows: unknown emails are hashed against it, so that a wrong
  -- email and a wrong password take the same path and the same time.
  decoy_hash constant text := '$2a$10$4yKkRrbZHa6kr4uJkWg.UeT4Cc2C1ZKZ1nLHj6mZ9bq9xXyG5sF1m';
  password_matches boolean;
  memberships record;
  chosen uuid;
  chosen_status text;
begin
  select u.id, s.password_hash, u.email_verified_at is not null into found_user, stored_hash, verified
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) trim(coalesce(login.email, ''))::public.citext;
  password_matches := public.crypt(coalesce(password, ''), coalesce(stored_hash, decoy_hash)) = coalesce(stored_hash, decoy_hash)
                      and stored_hash is not null;
  -- An unverified account gets the answer of a wrong password: otherwise signing up with an address
  -- and then signing in would tell whether that address already had an account.
  if not password_matches or not verified then
    raise exception 'Invalid email or password (a new account can sign in once its email address is confirmed)'
      using errcode = 'PT030';
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
  'Checks email and password (the same answer and the same bcrypt work whether the email exists or not, and for an '
  'account whose email is not verified yet) and opens a session in the named organisation, or the only one. '
  'Security definer because it runs for anonymous callers.';

--------------------------------------------------------------------------------
-- Verified email and password reset: single-use links, looked up by the hash of their token.

create function app_hidden.user_token(token text, purpose text) returns app_private.tokens
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_token app_private.tokens;
begin
  select t.* into found_token from app_private.tokens t
   where t.token_hash = public.digest(coalesce(token, ''), 'sha256') and t.purpose = user_token.purpose
   for update;
  if found_token.id is null or found_token.used_at is not null then
    raise exception 'Link invalid: this link is unknown or was already used; ask for a new one' using errcode = 'PT043';
  end if;
  if found_token.expires_at <= now() then
    raise exception 'Link expired: ask for a new one' using errcode = 'PT044';
  end if;
  return found_token;
end;
$$;
comment on function app_hidden.user_token(text, text) is
  'The unused, unexpired token row of a mailed link (locked), or a TOKEN_INVALID / TOKEN_EXPIRED error.';

create function app_hidden.verify_email(token text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_token app_private.tokens := app_hidden.user_token(token, 'verify_email');
begin
  update app_private.tokens t set used_at = now() where t.id = found_token.id;
  update iam.users u set email_verified_at = coalesce(u.email_verified_at, now()) where u.id = found_token.user_id;
  return true;
end;
$$;
comment on function app_hidden.verify_email(text) is
  'Marks the account of a verification link as verified (the link works once). Security definer because it runs for '
  'anonymous callers.';

create function app_hidden.request_password_reset(email text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_user iam.users;
  token uuid;
begin
  select u.* into found_user from iam.users u
   where u.email operator(public.=) trim(coalesce(request_password_reset.email, ''))::public.citext;
  -- One link a minute at most: asking again and again must not flood the mailbox (the previous
  -- link, still valid, is on its way).
  if found_user.id is not null and not exists (
    select 1 from app_private.tokens t
     where t.user_id = found_user.id and t.purpose = 'reset_password' and t.used_at is null
       and t.created_at > now() - interval '1 minute'
  ) then
    insert into app_private.tokens (purpose, user_id, expires_at)
    values ('reset_password', found_user.id, now() + interval '30 minutes')
    returning id into token;
    perform app_hidden.queue_mail('password_reset', found_user.email, found_user.locale, '{}', null, token);
  end if;
  return true;
end;
$$;
comment on function app_hidden.request_password_reset(text) is
  'Mails a password reset link (single use, valid 30 minutes from sending) when the address has an account; '
  'answers the same either way. Security definer because it runs for anonymous callers.';

create function app_hidden.reset_password(token text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_token app_private.tokens := app_hidden.user_token(token, 'reset_password');
  account iam.users;
begin
  select u.* into account from iam.users u where u.id = found_token.user_id;
  perform app_hidden.check_password(new_password, account.email);
  perform app_hidden.set_password(account.id, new_password);
  -- Every reset link of this user stops working, and so does every session.
  update app_private.tokens t set used_at = now()
   where t.user_id = account.id and t.purpose = 'reset_password' and t.used_at is null;
  update app_private.sessions s set revoked_at = now() where s.user_id = account.id and s.revoked_at is null;
  -- The link proved the mailbox.
  update iam.users u set email_verified_at = coalesce(u.email_verified_at, now()) where u.id = account.id;
  perform app_hidden.queue_mail('password_changed', account.email, account.locale, '{}', null, null);
  return true;
end;
$$;
comment on function app_hidden.reset_password(text, text) is
  'Sets a new password from a reset link (once), ends every session of the user, verifies the email and mails a '
  'notice. Security definer because it runs for anonymous callers.';

grant execute on function
  app_hidden.register(text, text, text, text, text, integer),
  app_hidden.verify_email(text),
  app_hidden.request_password_reset(text),
  app_hidden.reset_password(text, text)
  to :DATABASE_ANONYMOUS, :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- Operators (tenant:create) vouch for the accounts they create: verified at once.

create function app_hidden.create_verified_organisation(organisation_name text, owner_email text, owner_password text)
  returns table (organisation_id uuid, slug text)
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  address text := trim(owner_email);
  new_user uuid;
  new_organisation uuid;
begin
  if address is null or address !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(address) > 255 then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  if organisation_name is null or length(trim(organisation_name)) not between 1 and 200 then
    raise exception 'Invalid input: the organisation name must be 1 to 200 characters' using errcode = '22023';
  end if;
  perform app_hidden.check_password(owner_password, address);
  insert into iam.users (email, email_verified_at) values (address, now())
  on conflict (email) do nothing
  returning id into new_user;
  if new_user is null then
    raise exception 'Already exists: a user with the email % already exists', address using errcode = 'PT021';
  end if;
  perform app_hidden.set_password(new_user, owner_password);
  new_organisation := app_hidden.create_organisation(organisation_name);
  insert into iam.organisation_users (organisation_id, user_id, role) values (new_organisation, new_user, 'owner');
  return query select o.id, o.slug from iam.organisations o where o.id = new_organisation;
end;
$$;
comment on function app_hidden.create_verified_organisation(text, text, text) is
  'Operator sign-up (npm run tenant:create): an organisation and its owner, verified because the operator vouches '
  'for the address. Not granted to any API role.';

--! split: 420-invitations.sql
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

--! split: 430-ownership-by-consent.sql
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

--! split: 440-mail-outbox.sql
-- Membership by consent (issue 11), part 5: the mailer's side of the outbox. A mailer claims due
-- messages with FOR UPDATE SKIP LOCKED under a lease (several mailers never take one message), the
-- token of a link is drawn at that moment (its hash stored, the token returned once to be mailed),
-- and the outcome is recorded. A lease that runs out while a message is being sent means its mailer
-- died between sending and recording: whether the mail left is unknown, so the message becomes
-- `uncertain` and is not sent again (at most once across a crash; every known failure is retried).
-- Idempotent: it drops what it creates, then creates or replaces.

drop function if exists app_hidden.claim_mail(text, integer, integer);
drop function if exists app_hidden.mail_sent(uuid, text);
drop function if exists app_hidden.mail_failed(uuid, text, text, boolean, integer);
drop type if exists app_hidden.claimed_mail;

create type app_hidden.claimed_mail as (
  id uuid,
  kind text,
  recipient text,
  locale text,
  params jsonb,
  message_id text,
  attempts integer,
  token text
);
comment on type app_hidden.claimed_mail is 'A message the mailer now holds: what to render and, for a link, its token (never stored).';

create function app_hidden.claim_mail(worker text, batch_size integer, lease_seconds integer)
  returns setof app_hidden.claimed_mail
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  message app_private.mail_outbox;
  target app_private.tokens;
  still_wanted boolean;
  token text;
begin
  -- Leases that ran out mid-send: their mailer died after (perhaps) handing the message over.
  update app_private.mail_outbox b
     set status = 'uncertain', last_error = format('mailer %s stopped while sending (lease expired)', b.locked_by),
         lease_expires_at = null
   where b.status = 'sending' and b.lease_expires_at < now();

  for message in
    with due as (
      select b.id from app_private.mail_outbox b
       where b.status = 'pending' and b.next_attempt_at <= now()
       order by b.next_attempt_at, b.id
       limit least(greatest(batch_size, 1), 100)
       for update skip locked
    )
    update app_private.mail_outbox b
       set status = 'sending', locked_by = worker, attempts = b.attempts + 1,
           lease_expires_at = now() + make_interval(secs => greatest(lease_seconds, 1))
      from due where b.id = due.id
    returning b.*
  loop
    token := null;
    if message.token_id is not null then
      select t.* into target from app_private.tokens t where t.id = message.token_id for update;
      still_wanted := target.used_at is null and (
        target.purpose <> 'invitation' or exists (
          select 1 from iam.invitations i
           where i.organisation_id = target.organisation_id and i.id = target.invitation_id
             and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()));
      if not still_wanted then
        update app_private.mail_outbox b set status = 'cancelled', lease_expires_at = null where b.id = message.id;
        continue;
      end if;
      token := translate(encode(public.gen_random_bytes(32), 'base64'), '+/=', '-_');
      update app_private.tokens t
         set token_hash = public.digest(token, 'sha256'),
             -- The link's full validity counts from now (invitations keep their own expiry).
             expires_at = case when t.purpose = 'invitation' then t.expires_at
                               else greatest(t.expires_at, now() + (t.expires_at - t.created_at)) end
       where t.id = target.id;
    end if;
    return next (message.id, message.kind, message.recipient::text, message.locale, message.params,
                 message.message_id, message.attempts, token)::app_hidden.claimed_mail;
  end loop;
end;
$$;
comment on function app_hidden.claim_mail(text, integer, integer) is
  'Claims up to batch_size due messages for this mailer under a lease (SKIP LOCKED: concurrent mailers take '
  'different rows), draws the token of each link (storing only its hash) and returns them; marks messages whose '
  'mailer died mid-send as uncertain. Security definer: the mailer''s role reads no table itself.';

create function app_hidden.mail_sent(message uuid, worker text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  sent app_private.mail_outbox;
begin
  update app_private.mail_outbox b
     set status = 'sent', sent_at = now(), lease_expires_at = null, last_error = null
   where b.id = message and b.locked_by = worker and b.status in ('sending', 'uncertain')
  returning * into sent;
  if sent.id is not null and sent.token_id is not null then
    update iam.invitations i set last_sent_at = now()
      from app_private.tokens t
     where t.id = sent.token_id and i.organisation_id = t.organisation_id and i.id = t.invitation_id;
  end if;
  return sent.id is not null;
end;
$$;
comment on function app_hidden.mail_sent(uuid, text) is
  'Records that the mail server accepted the message. Security definer: the mailer''s role reads no table itself.';

create function app_hidden.mail_failed(message uuid, worker text, error text, permanent boolean, retry_after_ms integer)
  returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  outcome text;
begin
  update app_private.mail_outbox b
     set status = case when permanent then 'failed' else 'pending' end,
         next_attempt_at = now() + make_interval(secs => greatest(retry_after_ms, 0) / 1000.0),
         lease_expires_at = null, last_error = left(error, 2000)
   where b.id = message and b.locked_by = worker and b.status in ('sending', 'uncertain')
  returning b.status into outcome;
  return outcome;
end;
$$;
comment on function app_hidden.mail_failed(uuid, text, text, boolean, integer) is
  'Records a failed attempt: back to pending after retry_after_ms (the mailer''s backoff), or failed for good when '
  'the mail server refused the message permanently. Security definer: the mailer''s role reads no table itself.';

grant execute on function app_hidden.claim_mail(text, integer, integer), app_hidden.mail_sent(uuid, text),
  app_hidden.mail_failed(uuid, text, text, boolean, integer) to :DATABASE_VISITOR;

--! split: 450-organisation-deletion.sql
-- Membership by consent (issue 11), part 6: deleting an organisation deletes only what it owns.
-- Accounts go with it only when they were created for it and never joined another organisation;
-- every other member just loses the membership. The deletion record says which accounts went and
-- which stayed (by id: no personal data).
-- Idempotent: the record's new columns are added once (they hold history); the function is replaced.

alter table app_private.organisation_deletions
  add column if not exists accounts_deleted uuid[] not null default '{}',
  add column if not exists accounts_kept uuid[] not null default '{}';
comment on column app_private.organisation_deletions.accounts_deleted is
  'Accounts deleted with the organisation: created for it, never a member anywhere else.';
comment on column app_private.organisation_deletions.accounts_kept is
  'Members whose accounts stayed (they came from, or also joined, another organisation); only the membership went.';

create or replace function app_hidden.delete_organisation_data(organisation uuid, actor uuid) returns jsonb
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  tenant_table record;
  removed bigint;
  rows_removed jsonb := '{}'::jsonb;
  owned_accounts uuid[];
  other_accounts uuid[];
  recorded_at timestamptz;
begin
  if not exists (select 1 from iam.organisations o where o.id = organisation) then
    raise exception 'Not found: no organisation with this id' using errcode = 'PT011';
  end if;
  for tenant_table in
    select format('%I.%I', n.nspname, c.relname)::text as name
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'organisation_id' and not a.attisdropped
     where n.nspname in ('iam', 'crm', 'outreach', 'tracking', 'app_private') and c.relkind in ('r', 'p')
     order by 1
  loop
    execute format('select count(*) from %s where organisation_id = $1', tenant_table.name) into removed using organisation;
    if removed > 0 then rows_removed := rows_removed || jsonb_build_object(tenant_table.name, removed); end if;
  end loop;
  select coalesce(array_agg(m.user_id order by m.user_id) filter (where m.owned), '{}'::uuid[]),
         coalesce(array_agg(m.user_id order by m.user_id) filter (where not m.owned), '{}'::uuid[])
    into owned_accounts, other_accounts
    from (
      select member.user_id,
             exists (
               select 1 from app_private.account_origins o
                where o.user_id = member.user_id and o.created_for_organisation_id = organisation
                  and o.joined_another_at is null
             ) and not exists (
               select 1 from iam.organisation_users other
                where other.user_id = member.user_id and other.organisation_id <> organisation
             ) as owned
        from iam.organisation_users member
       where member.organisation_id = organisation
    ) m;
  rows_removed := rows_removed || jsonb_build_object('iam.organisations', 1, 'iam.users', cardinality(owned_accounts));
  delete from iam.organisations o where o.id = organisation;
  delete from iam.users u where u.id = any(owned_accounts);
  insert into app_private.organisation_deletions
    (organisation_id, deleted_by_user_id, rows_removed, accounts_deleted, accounts_kept)
  values (organisation, actor, rows_removed, owned_accounts, other_accounts)
  returning deleted_at into recorded_at;
  return jsonb_build_object(
    'organisationId', organisation, 'deletedAt', recorded_at, 'rowsRemoved', rows_removed,
    'accountsDeleted', cardinality(owned_accounts), 'accountsKept', cardinality(other_accounts));
end;
$$;
comment on function app_hidden.delete_organisation_data(uuid, uuid) is
  'Deletes an organisation with all its rows (foreign keys cascade from iam.organisations) and the accounts created '
  'for it that never joined another organisation (other members keep their accounts), and records which. Used by '
  'deleteCurrentOrganisation and the operator CLI.';
