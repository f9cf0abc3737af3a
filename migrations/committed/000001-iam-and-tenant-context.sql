--! Previous: -
--! Hash: sha1:ad31c23b5d164cd524114b794998c58dfbf04547
--! Message: iam and tenant context

-- Foundation: private schemas, the tenant-context helpers every policy calls, and iam.
-- Idempotent: it drops what it creates, so `graphile-migrate watch` can run it again and again.

drop schema if exists iam cascade;
drop schema if exists app_private cascade;
drop schema if exists app_hidden cascade;

create extension if not exists citext with schema public;
create extension if not exists pgcrypto with schema public;

-- Nobody gets anything by default: every privilege below is granted on purpose.
revoke all on schema public from public;
grant all on schema public to :DATABASE_OWNER;
alter default privileges revoke all on sequences from public;
alter default privileges revoke all on functions from public;
grant usage on schema public to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;

create schema app_hidden;
comment on schema app_hidden is
  'Helpers that policies and triggers call; usable by the visitor but never exposed through GraphQL.';
grant usage on schema app_hidden to :DATABASE_VISITOR;

create schema app_private;
comment on schema app_private is
  'Secrets (password hashes) that no API role can read.';

create schema iam;
comment on schema iam is 'Identity and access: organisations (the tenants), users and memberships.';
grant usage on schema iam to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- Shared trigger: updated_at

create function app_hidden.tg__set_updated_at() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function app_hidden.tg__set_updated_at() is
  'Trigger function: keeps updated_at equal to the time of the last update.';

--------------------------------------------------------------------------------
-- iam.organisations

create table iam.organisations (
  id uuid not null default gen_random_uuid() primary key,
  name text not null constraint organisations_name_length check (length(name) between 1 and 200),
  slug text not null
    constraint organisations_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 100),
  tier text not null default 'free'
    constraint organisations_tier_valid check (tier in ('free', 'pro', 'enterprise')),
  status text not null default 'active'
    constraint organisations_status_valid check (status in ('active', 'suspended')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint organisations_slug_unique unique (slug)
);
comment on table iam.organisations is
  'A tenant: a customer organisation whose data no other organisation can see.';
comment on column iam.organisations.slug is 'Short unique name used in URLs and at login, e.g. `acme`.';
comment on column iam.organisations.tier is 'Subscription tier: free, pro or enterprise.';
comment on column iam.organisations.status is 'active, or suspended (its members are refused).';

create trigger _100_set_updated_at before update on iam.organisations
  for each row execute function app_hidden.tg__set_updated_at();

--------------------------------------------------------------------------------
-- iam.users

create table iam.users (
  id uuid not null default gen_random_uuid() primary key,
  email public.citext not null
    constraint users_email_format check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 255),
  first_name text constraint users_first_name_length check (length(first_name) <= 100),
  last_name text constraint users_last_name_length check (length(last_name) <= 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index idx_users_email on iam.users (email);
comment on table iam.users is
  'A person who signs in; may belong to several organisations. Password hashes live elsewhere.';
comment on column iam.users.email is 'Sign-in email, unique and case-insensitive.';

create trigger _100_set_updated_at before update on iam.users
  for each row execute function app_hidden.tg__set_updated_at();

--------------------------------------------------------------------------------
-- iam.organisation_users

create table iam.organisation_users (
  organisation_id uuid not null
    constraint organisation_users_organisation_fk references iam.organisations on delete cascade,
  user_id uuid not null
    constraint organisation_users_user_fk references iam.users on delete cascade,
  role text not null default 'member'
    constraint organisation_users_role_valid check (role in ('owner', 'admin', 'member', 'viewer')),
  status text not null default 'active'
    constraint organisation_users_status_valid check (status in ('active', 'invited', 'disabled')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, user_id)
);
create index idx_org_users_user_id on iam.organisation_users (user_id);
create unique index idx_org_users_one_owner on iam.organisation_users (organisation_id)
  where role = 'owner';
comment on table iam.organisation_users is
  'Membership: which users belong to which organisation, with what role (owner, admin, member, viewer).';
comment on column iam.organisation_users.role is
  'owner (one per organisation), admin, member (writes tenant data) or viewer (reads only).';
comment on column iam.organisation_users.status is
  'Only active members can act in the organisation; invited and disabled members cannot.';

create trigger _100_set_updated_at before update on iam.organisation_users
  for each row execute function app_hidden.tg__set_updated_at();

--------------------------------------------------------------------------------
-- app_private.user_secrets

create table app_private.user_secrets (
  user_id uuid not null primary key
    constraint user_secrets_user_fk references iam.users on delete cascade,
  password_hash text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table app_private.user_secrets enable row level security;
comment on table app_private.user_secrets is
  'Password hashes (bcrypt), one row per user; unreachable by every API role.';

create trigger _100_set_updated_at before update on app_private.user_secrets
  for each row execute function app_hidden.tg__set_updated_at();

--------------------------------------------------------------------------------
-- Tenant context: the helpers every policy calls, always as `(select helper())`
-- so PostgreSQL evaluates them once per statement (an InitPlan), not per row.
--
-- Errors use SQLSTATE class PT ("ProspectFlow tenant"); the server maps them to
-- stable GraphQL error codes:
--   PT001 TENANT_MISSING  app.organisation_id / app.user_id not set (or '' after a transaction)
--   PT002 TENANT_INVALID  a setting is not a UUID
--   PT003 NOT_A_MEMBER    the user is not an active member of an active organisation
--   PT004 FORBIDDEN       the member's role does not allow the operation

create function app_hidden.setting_as_uuid(setting_name text) returns uuid
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
as $$
declare
  raw_value text := nullif(current_setting(setting_name, true), '');
begin
  if raw_value is null then
    raise exception 'No tenant context: % is not set for this transaction', setting_name
      using errcode = 'PT001',
            hint = 'Send a bearer token; in SQL, set app.organisation_id and app.user_id with set_config(..., true), '
                   'or use pg_temp.authenticate_as() from test/rls/helpers.sql.';
  end if;
  if raw_value !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception 'Invalid tenant context: % is not a UUID', setting_name
      using errcode = 'PT002';
  end if;
  return raw_value::uuid;
end;
$$;
comment on function app_hidden.setting_as_uuid(text) is
  'Reads a transaction setting that must hold a UUID; fails closed when it is missing, empty or malformed.';

create function app_hidden.current_member_role() returns text
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.setting_as_uuid('app.organisation_id');
  member uuid := app_hidden.setting_as_uuid('app.user_id');
  member_role text;
begin
  select m.role into member_role
    from iam.organisation_users m
    join iam.organisations o on o.id = m.organisation_id
   where m.organisation_id = organisation
     and m.user_id = member
     and m.status = 'active'
     and o.status = 'active';
  if member_role is null then
    raise exception 'Not a member: this user is not an active member of this organisation'
      using errcode = 'PT003';
  end if;
  return member_role;
end;
$$;
comment on function app_hidden.current_member_role() is
  'The role of app.user_id in app.organisation_id, failing closed when either is missing or the '
  'membership is not active. Security definer because it must read memberships that RLS would hide '
  'from the caller while the caller''s own tenant is still being established.';

create function app_hidden.current_organisation_id() returns uuid
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_hidden.current_member_role();
  return app_hidden.setting_as_uuid('app.organisation_id');
end;
$$;
comment on function app_hidden.current_organisation_id() is
  'The tenant of this transaction, after checking that the current user is an active member of it. '
  'Every tenant policy calls it as `(select app_hidden.current_organisation_id())`.';

create function app_hidden.current_user_id() returns uuid
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_hidden.current_member_role();
  return app_hidden.setting_as_uuid('app.user_id');
end;
$$;
comment on function app_hidden.current_user_id() is
  'The signed-in user of this transaction, after checking that they are an active member of the tenant.';

create function app_hidden.require_role(minimum_role text) returns boolean
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
as $$
declare
  ranks constant text[] := array['viewer', 'member', 'admin', 'owner'];
  member_role text := app_hidden.current_member_role();
begin
  if array_position(ranks, minimum_role) is null then
    raise exception 'Unknown role %', minimum_role;
  end if;
  if array_position(ranks, member_role) < array_position(ranks, minimum_role) then
    raise exception 'Forbidden: your role (%) cannot do this; it needs % or above', member_role, minimum_role
      using errcode = 'PT004';
  end if;
  return true;
end;
$$;
comment on function app_hidden.require_role(text) is
  'True when the current member''s role ranks at least minimum_role (viewer < member < admin < owner); '
  'otherwise fails with a clear "forbidden" error instead of silently filtering rows.';

grant execute on function
  app_hidden.setting_as_uuid(text),
  app_hidden.current_member_role(),
  app_hidden.current_organisation_id(),
  app_hidden.current_user_id(),
  app_hidden.require_role(text)
  to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- iam policies and grants. Organisations, users and memberships are created and
-- removed by privileged functions only (sign-up, invitations, deletion), so the
-- visitor is granted just the reads and the few updates below; the policies for
-- the other commands still exist and still name the tenant, so that a later
-- grant can never open a table wider than its tenant.

alter table iam.organisations enable row level security;
create policy select_own on iam.organisations for select
  using (id = (select app_hidden.current_organisation_id()));
create policy insert_none on iam.organisations for insert
  with check (id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('owner')));
create policy update_own on iam.organisations for update
  using (id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('admin')));
create policy delete_own on iam.organisations for delete
  using (id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('owner')));
grant select on iam.organisations to :DATABASE_VISITOR;
grant update (name) on iam.organisations to :DATABASE_VISITOR;

alter table iam.users enable row level security;
create policy select_colleagues on iam.users for select
  using (id in (
    select m.user_id from iam.organisation_users m
     where m.organisation_id = (select app_hidden.current_organisation_id())
  ));
create policy insert_self on iam.users for insert
  with check (id = (select app_hidden.current_user_id()));
create policy update_self on iam.users for update
  using (id = (select app_hidden.current_user_id()));
create policy delete_self on iam.users for delete
  using (id = (select app_hidden.current_user_id()));
grant select on iam.users to :DATABASE_VISITOR;
grant update (first_name, last_name) on iam.users to :DATABASE_VISITOR;

alter table iam.organisation_users enable row level security;
create policy select_own on iam.organisation_users for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on iam.organisation_users for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('admin')));
create policy update_own on iam.organisation_users for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('admin')));
create policy delete_own on iam.organisation_users for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('admin')));
grant select on iam.organisation_users to :DATABASE_VISITOR;
