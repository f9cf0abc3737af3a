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
