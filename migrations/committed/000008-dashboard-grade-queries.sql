--! Previous: sha1:baafa318f7c29ec11d430091a63212b5eabb53a9
--! Hash: sha1:c00e018a6b41f3cfec47714ae90f65a78de87ee3
--! Message: Dashboard-grade queries

--! split: 500-dashboard-enums.sql
-- 500 dashboard enums: every status, state, kind, direction and role becomes a GraphQL enum.
-- Each enumeration is a lookup table in `reference` tagged `@enum` (PostGraphile turns the columns
-- that reference it into an enum type, so GraphiQL autocompletes and a wrong value is a
-- validation error). The columns stay `text` (functions compare and assign them as text); the
-- CHECK constraints become foreign keys to the lookup tables (same names, `<table>_<column>_valid`, so an
-- unknown value is still reported as INVALID_INPUT naming the rule), rows are kept as they are.
-- Idempotent: drops the lookup tables (and with them the foreign keys) first.

-- Drop: the foreign keys of an earlier run go with the lookup tables; the original CHECKs once.
drop table if exists reference.organisation_tiers cascade;
drop table if exists reference.organisation_statuses cascade;
drop table if exists reference.member_roles cascade;
drop table if exists reference.membership_statuses cascade;
drop table if exists reference.person_statuses cascade;
drop table if exists reference.email_statuses cascade;
drop table if exists reference.campaign_statuses cascade;
drop table if exists reference.step_kinds cascade;
drop table if exists reference.experiment_statuses cascade;
drop table if exists reference.enrollment_states cascade;
drop table if exists reference.task_types cascade;
drop table if exists reference.task_statuses cascade;
drop table if exists reference.message_directions cascade;
drop table if exists reference.message_statuses cascade;
drop table if exists reference.message_providers cascade;
alter table iam.organisations drop constraint if exists organisations_tier_valid;
alter table iam.organisations drop constraint if exists organisations_status_valid;
alter table iam.organisation_users drop constraint if exists organisation_users_role_valid;
alter table reference.role_permissions drop constraint if exists role_permissions_role_valid;
alter table iam.organisation_users drop constraint if exists organisation_users_status_valid;
alter table crm.people drop constraint if exists people_status_valid;
alter table crm.positions drop constraint if exists positions_email_status_valid;
alter table outreach.campaigns drop constraint if exists campaigns_status_valid;
alter table outreach.workflow_steps drop constraint if exists workflow_steps_kind_valid;
alter table outreach.step_experiments drop constraint if exists step_experiments_status_valid;
alter table outreach.campaign_enrollments drop constraint if exists campaign_enrollments_state_valid;
alter table outreach.tasks drop constraint if exists tasks_task_type_valid;
alter table outreach.tasks drop constraint if exists tasks_status_valid;
alter table outreach.messages drop constraint if exists messages_direction_valid;
alter table outreach.messages drop constraint if exists messages_status_valid;
alter table outreach.messages drop constraint if exists messages_provider_valid;

create table reference.organisation_tiers (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.organisation_tiers enable row level security;
create policy select_all on reference.organisation_tiers for select using (true);
grant select on reference.organisation_tiers to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.organisation_tiers is E'@enum\n@enumName OrganisationTier\nThe plans an organisation can be on.';
insert into reference.organisation_tiers (value, description, sort_order) values
  ('free', 'Free plan', 1),
  ('pro', 'Paid plan', 2),
  ('enterprise', 'Enterprise plan', 3);
alter table iam.organisations add constraint organisations_tier_valid foreign key (tier) references reference.organisation_tiers (value);

create table reference.organisation_statuses (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.organisation_statuses enable row level security;
create policy select_all on reference.organisation_statuses for select using (true);
grant select on reference.organisation_statuses to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.organisation_statuses is E'@enum\n@enumName OrganisationStatus\nWhether an organisation may use the service.';
insert into reference.organisation_statuses (value, description, sort_order) values
  ('active', 'In use', 1),
  ('suspended', 'Suspended: its tokens and logins are refused', 2);
alter table iam.organisations add constraint organisations_status_valid foreign key (status) references reference.organisation_statuses (value);

create table reference.member_roles (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.member_roles enable row level security;
create policy select_all on reference.member_roles for select using (true);
grant select on reference.member_roles to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.member_roles is E'@enum\n@enumName MemberRole\nThe roles a member can hold in an organisation (what each may do: reference.role_permissions).';
insert into reference.member_roles (value, description, sort_order) values
  ('owner', 'The one owner: everything, including ownership transfer and deletion', 1),
  ('admin', 'Manages members and settings', 2),
  ('member', 'Reads and writes the organisation''s data', 3),
  ('viewer', 'Reads only', 4);
alter table iam.organisation_users add constraint organisation_users_role_valid foreign key (role) references reference.member_roles (value);
alter table reference.role_permissions add constraint role_permissions_role_valid foreign key (role) references reference.member_roles (value);

create table reference.membership_statuses (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.membership_statuses enable row level security;
create policy select_all on reference.membership_statuses for select using (true);
grant select on reference.membership_statuses to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.membership_statuses is E'@enum\n@enumName MembershipStatus\nWhere a membership stands.';
insert into reference.membership_statuses (value, description, sort_order) values
  ('active', 'A member', 1),
  ('invited', 'Invited, not yet signed up', 2),
  ('disabled', 'No longer allowed in', 3);
alter table iam.organisation_users add constraint organisation_users_status_valid foreign key (status) references reference.membership_statuses (value);

create table reference.person_statuses (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.person_statuses enable row level security;
create policy select_all on reference.person_statuses for select using (true);
grant select on reference.person_statuses to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.person_statuses is E'@enum\n@enumName PersonStatus\nWhere a prospect stands.';
insert into reference.person_statuses (value, description, sort_order) values
  ('new', 'Not worked on yet', 1),
  ('queued', 'Queued for research or outreach', 2),
  ('researched', 'Researched', 3),
  ('contacted', 'Contacted', 4),
  ('replied', 'Replied', 5),
  ('converted', 'Became a customer', 6),
  ('unsubscribed', 'Asked not to be contacted', 7),
  ('bounced', 'Emails bounce', 8);
alter table crm.people add constraint people_status_valid foreign key (status) references reference.person_statuses (value);

create table reference.email_statuses (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.email_statuses enable row level security;
create policy select_all on reference.email_statuses for select using (true);
grant select on reference.email_statuses to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.email_statuses is E'@enum\n@enumName EmailStatus\nDeliverability of a work email.';
insert into reference.email_statuses (value, description, sort_order) values
  ('unknown', 'Not verified', 1),
  ('valid', 'Verified deliverable', 2),
  ('risky', 'May bounce', 3),
  ('catch_all', 'The domain accepts every address', 4),
  ('invalid', 'Will bounce', 5);
alter table crm.positions add constraint positions_email_status_valid foreign key (email_status) references reference.email_statuses (value);

create table reference.campaign_statuses (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.campaign_statuses enable row level security;
create policy select_all on reference.campaign_statuses for select using (true);
grant select on reference.campaign_statuses to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.campaign_statuses is E'@enum\n@enumName CampaignStatus\nThe life cycle of a campaign.';
insert into reference.campaign_statuses (value, description, sort_order) values
  ('draft', 'Being prepared', 1),
  ('active', 'Running', 2),
  ('paused', 'Paused', 3),
  ('completed', 'Finished', 4),
  ('archived', 'Archived', 5);
alter table outreach.campaigns add constraint campaigns_status_valid foreign key (status) references reference.campaign_statuses (value);

create table reference.step_kinds (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.step_kinds enable row level security;
create policy select_all on reference.step_kinds for select using (true);
grant select on reference.step_kinds to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.step_kinds is E'@enum\n@enumName StepKind\nWhat a workflow step does.';
insert into reference.step_kinds (value, description, sort_order) values
  ('email', 'Send an email', 1),
  ('linkedin_message', 'Send a LinkedIn message', 2),
  ('call', 'Make a call', 3),
  ('manual_task', 'A task done by hand', 4);
alter table outreach.workflow_steps add constraint workflow_steps_kind_valid foreign key (kind) references reference.step_kinds (value);

create table reference.experiment_statuses (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.experiment_statuses enable row level security;
create policy select_all on reference.experiment_statuses for select using (true);
grant select on reference.experiment_statuses to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.experiment_statuses is E'@enum\n@enumName ExperimentStatus\nThe life cycle of an A/B test.';
insert into reference.experiment_statuses (value, description, sort_order) values
  ('draft', 'Being prepared', 1),
  ('running', 'Assigning variants', 2),
  ('stopped', 'Stopped early', 3),
  ('completed', 'Finished', 4);
alter table outreach.step_experiments add constraint step_experiments_status_valid foreign key (status) references reference.experiment_statuses (value);

create table reference.enrollment_states (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.enrollment_states enable row level security;
create policy select_all on reference.enrollment_states for select using (true);
grant select on reference.enrollment_states to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.enrollment_states is E'@enum\n@enumName EnrollmentState\nWhere an enrolment in a campaign stands.';
insert into reference.enrollment_states (value, description, sort_order) values
  ('active', 'Going through the steps', 1),
  ('paused', 'Paused', 2),
  ('completed', 'Went through every step', 3),
  ('replied', 'The prospect replied', 4),
  ('bounced', 'An email bounced', 5),
  ('unsubscribed', 'The prospect unsubscribed', 6),
  ('stopped', 'Stopped by hand', 7);
alter table outreach.campaign_enrollments add constraint campaign_enrollments_state_valid foreign key (state) references reference.enrollment_states (value);

create table reference.task_types (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.task_types enable row level security;
create policy select_all on reference.task_types for select using (true);
grant select on reference.task_types to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.task_types is E'@enum\n@enumName TaskType\nThe kinds of task a worker runs.';
insert into reference.task_types (value, description, sort_order) values
  ('research', 'Research the prospect', 1),
  ('draft', 'Draft the message', 2),
  ('send', 'Send the message', 3),
  ('follow_up', 'Follow up', 4);
alter table outreach.tasks add constraint tasks_task_type_valid foreign key (task_type) references reference.task_types (value);

create table reference.task_statuses (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.task_statuses enable row level security;
create policy select_all on reference.task_statuses for select using (true);
grant select on reference.task_statuses to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.task_statuses is E'@enum\n@enumName TaskStatus\nWhere a task stands in the queue.';
insert into reference.task_statuses (value, description, sort_order) values
  ('queued', 'Waiting for its time', 1),
  ('processing', 'Claimed by a worker', 2),
  ('completed', 'Done', 3),
  ('failed', 'Failed for good', 4),
  ('cancelled', 'Cancelled', 5);
alter table outreach.tasks add constraint tasks_status_valid foreign key (status) references reference.task_statuses (value);

create table reference.message_directions (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.message_directions enable row level security;
create policy select_all on reference.message_directions for select using (true);
grant select on reference.message_directions to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.message_directions is E'@enum\n@enumName MessageDirection\nWhether a message was sent or received.';
insert into reference.message_directions (value, description, sort_order) values
  ('outbound', 'Sent to the prospect', 1),
  ('inbound', 'Received from the prospect', 2);
alter table outreach.messages add constraint messages_direction_valid foreign key (direction) references reference.message_directions (value);

create table reference.message_statuses (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.message_statuses enable row level security;
create policy select_all on reference.message_statuses for select using (true);
grant select on reference.message_statuses to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.message_statuses is E'@enum\n@enumName MessageStatus\nWhere a message stands.';
insert into reference.message_statuses (value, description, sort_order) values
  ('draft', 'Being written', 1),
  ('pending_review', 'Waiting for review', 2),
  ('approved', 'Approved for sending', 3),
  ('sent', 'Sent', 4),
  ('failed', 'Sending failed', 5),
  ('bounced', 'Bounced', 6),
  ('received', 'Received (inbound)', 7);
alter table outreach.messages add constraint messages_status_valid foreign key (status) references reference.message_statuses (value);

create table reference.message_providers (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.message_providers enable row level security;
create policy select_all on reference.message_providers for select using (true);
grant select on reference.message_providers to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.message_providers is E'@enum\n@enumName MessageProvider\nThe channel a message went through.';
insert into reference.message_providers (value, description, sort_order) values
  ('gmail', 'Gmail', 1),
  ('outlook', 'Outlook', 2),
  ('smtp', 'SMTP', 3),
  ('manual', 'Sent by hand', 4);
alter table outreach.messages add constraint messages_provider_valid foreign key (provider) references reference.message_providers (value);

--! split: 510-dashboard-search.sql
-- 510 dashboard search: case- and accent-insensitive search of people, companies and positions
-- (names, emails, company names, SIREN, job titles) with pg_trgm + unaccent.
-- The extensions live in the `extensions` schema, not `public`. Each searchable table has one
-- immutable "search document" function (the same expression in the index and in the query the
-- API generates) and a GIN index on (organisation_id, document): btree_gin lets the index lead
-- with organisation_id, so a search reads only the trigram entries of one organisation.
-- Idempotent: drops its functions (and with them the indexes) first; extensions are kept.

create schema if not exists extensions;
comment on schema extensions is 'PostgreSQL extensions (pg_trgm, unaccent, btree_gin), kept out of the public schema.';
grant usage on schema extensions to :DATABASE_VISITOR;
create extension if not exists pg_trgm with schema extensions;
create extension if not exists unaccent with schema extensions;
create extension if not exists btree_gin with schema extensions;

-- The generated columns first (they depend on the functions), with their indexes.
alter table crm.people drop column if exists search_document;
alter table crm.companies drop column if exists search_document;
alter table crm.positions drop column if exists search_document;
drop function if exists app_hidden.people_matching(text);
drop function if exists app_hidden.companies_matching(text);
drop function if exists app_hidden.positions_matching(text);
drop function if exists app_hidden.search_text(text) cascade;
drop function if exists app_hidden.search_pattern(text) cascade;
drop function if exists app_hidden.people_search_document(text, text, text) cascade;
drop function if exists app_hidden.companies_search_document(text, text, text, text) cascade;
drop function if exists app_hidden.positions_search_document(text, text) cascade;

create function app_hidden.search_text(value text) returns text
  language sql immutable parallel safe strict
as $$
  select lower(extensions.unaccent('extensions.unaccent'::regdictionary, value));
$$;
comment on function app_hidden.search_text(text) is
  'Lower-case, accent-free text for search ("Léa" → "lea"). Immutable (unaccent itself is only stable, because its '
  'dictionary could change): the project never changes the dictionary, so index expressions may use it.';

create function app_hidden.search_pattern(query text) returns text
  language sql immutable parallel safe strict
as $$
  select '%' || replace(replace(replace(app_hidden.search_text(btrim(query)), '\', '\\'), '%', '\%'), '_', '\_') || '%';
$$;
comment on function app_hidden.search_pattern(text) is
  'The LIKE pattern that finds a search query anywhere in a search document; %, _ and \ in the query match themselves.';

create function app_hidden.people_search_document(first_name text, last_name text, email text) returns text
  language sql immutable parallel safe
as $$
  select app_hidden.search_text(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, ''));
$$;
comment on function app_hidden.people_search_document(text, text, text) is
  'What `people(search:)` matches: first name, last name and email, lower-case and without accents.';

create function app_hidden.companies_search_document(name text, brand_name text, siren text, hq_siret text) returns text
  language sql immutable parallel safe
as $$
  select app_hidden.search_text(coalesce(name, '') || ' ' || coalesce(brand_name, '') || ' ' || coalesce(siren, '')
                                || ' ' || coalesce(hq_siret, ''));
$$;
comment on function app_hidden.companies_search_document(text, text, text, text) is
  'What `companies(search:)` matches: name, brand name, SIREN and headquarters SIRET, lower-case and without accents.';

create function app_hidden.positions_search_document(job_title text, email text) returns text
  language sql immutable parallel safe
as $$
  select app_hidden.search_text(coalesce(job_title, '') || ' ' || coalesce(email, ''));
$$;
comment on function app_hidden.positions_search_document(text, text) is
  'What `positions(search:)` matches on the position itself: job title and work email (the company''s name and SIREN '
  'are matched through companies_search_document).';

grant execute on function app_hidden.search_text(text), app_hidden.search_pattern(text),
  app_hidden.people_search_document(text, text, text), app_hidden.companies_search_document(text, text, text, text),
  app_hidden.positions_search_document(text, text)
  to :DATABASE_VISITOR;

-- The documents are stored generated columns: a search reads them instead of computing unaccent
-- row by row (unaccent is a non-inlinable function call, ~25 µs a row; 100,000 rows is 2.5 s).
-- They are hidden from GraphQL (`@behavior -*`); exports skip nothing, imports recompute them.
alter table crm.people add column search_document text
  generated always as (app_hidden.people_search_document(first_name, last_name, email::text)) stored;
alter table crm.companies add column search_document text
  generated always as (app_hidden.companies_search_document(name, brand_name, siren, hq_siret)) stored;
alter table crm.positions add column search_document text
  generated always as (app_hidden.positions_search_document(job_title, email::text)) stored;
comment on column crm.people.search_document is
  E'@behavior -*\nWhat people(search:) matches: names and email, lower-case, without accents (generated).';
comment on column crm.companies.search_document is
  E'@behavior -*\nWhat companies(search:) matches: name, brand, SIREN, SIRET, lower-case, without accents (generated).';
comment on column crm.positions.search_document is
  E'@behavior -*\nWhat positions(search:) matches: job title and work email, lower-case, without accents (generated).';

create index idx_people_search on crm.people using gin (organisation_id, search_document extensions.gin_trgm_ops);
create index idx_companies_search on crm.companies using gin (organisation_id, search_document extensions.gin_trgm_ops);
create index idx_positions_search on crm.positions using gin (organisation_id, search_document extensions.gin_trgm_ops);
comment on index crm.idx_people_search is 'people(search:): trigrams of names and email, per organisation.';
comment on index crm.idx_companies_search is 'companies(search:) and positions(search:): trigrams of name, brand, SIREN, SIRET.';
comment on index crm.idx_positions_search is 'positions(search:): trigrams of job title and work email, per organisation.';

-- What search runs: the ids of the caller's organisation's rows whose document contains the query
-- (`rows 200`: the planner then looks the matches up by primary key rather than scanning another index;
-- the tenant and the pattern are `(select …)` so that they are computed once, not once per row).
-- Security definer because LIKE (textlike) is not leakproof: under RLS PostgreSQL may not use a
-- non-leakproof condition as an index condition, so a search through the policies would read
-- every row of the organisation (100,000 on the bench's large ones) instead of the trigram index.
-- Owned by the owner, these functions bypass RLS; they filter on app_hidden.current_organisation_id()
-- themselves (which fails closed exactly as the policies do) and return ids only, which the
-- API's query then reads through RLS as usual.
create function app_hidden.people_matching(query text) returns setof uuid
  language sql stable security definer rows 200
  set search_path = pg_catalog, pg_temp
as $$
  select p.id
    from crm.people p
   where p.organisation_id = (select app_hidden.current_organisation_id())
     and p.search_document like (select app_hidden.search_pattern(query));
$$;
comment on function app_hidden.people_matching(text) is
  'Ids of your organisation''s people whose names or email contain the query (any case, any accents); '
  'security definer so that the trigram index serves it (see the comment above it in 510-dashboard-search.sql).';

create function app_hidden.companies_matching(query text) returns setof uuid
  language sql stable security definer rows 200
  set search_path = pg_catalog, pg_temp
as $$
  select c.id
    from crm.companies c
   where c.organisation_id = (select app_hidden.current_organisation_id())
     and c.search_document like (select app_hidden.search_pattern(query));
$$;
comment on function app_hidden.companies_matching(text) is
  'Ids of your organisation''s companies whose name, brand, SIREN or SIRET contain the query; security definer '
  'for the trigram index, like people_matching.';

create function app_hidden.positions_matching(query text) returns setof uuid
  language sql stable security definer rows 200
  set search_path = pg_catalog, pg_temp
as $$
  select p.id from crm.positions p
   where p.organisation_id = (select app_hidden.current_organisation_id())
     and p.search_document like (select app_hidden.search_pattern(query))
  union
  select p.id from crm.companies c join crm.positions p on p.organisation_id = c.organisation_id and p.company_id = c.id
   where c.organisation_id = (select app_hidden.current_organisation_id())
     and c.search_document like (select app_hidden.search_pattern(query));
$$;
comment on function app_hidden.positions_matching(text) is
  'Ids of your organisation''s positions whose job title or work email, or whose company''s name or SIREN, contain '
  'the query; security definer for the trigram indexes, like people_matching.';

grant execute on function app_hidden.people_matching(text), app_hidden.companies_matching(text),
  app_hidden.positions_matching(text)
  to :DATABASE_VISITOR;

--! split: 520-dashboard-ordering.sql
-- 520 dashboard ordering and filters: the indexes behind the orders and filters a dashboard sends
-- (last name, first name, company name, creation date, enrolment date, scheduled time; created
-- after / active before; people at companies of a NAF sector). Every one leads with
-- organisation_id and ends with id, so a page in that order reads only its own rows of the index
-- and the primary key that PostGraphile appends for stable cursors costs nothing more.
-- PostGraphile's index behaviours expose orderBy and filter fields only for indexed columns.
-- Idempotent: drops its indexes first.

drop index if exists crm.idx_people_last_name;
drop index if exists crm.idx_people_first_name;
drop index if exists crm.idx_people_created_at;
drop index if exists crm.idx_people_updated_at;
drop index if exists crm.idx_companies_name;
drop index if exists crm.idx_companies_created_at;
drop index if exists crm.idx_companies_naf_sector;
drop index if exists crm.idx_positions_created_at;
drop index if exists outreach.idx_campaigns_created_at;
drop index if exists outreach.idx_campaign_enrollments_campaign_enrolled_at;
drop index if exists outreach.idx_campaign_enrollments_enrolled_at;
drop index if exists outreach.idx_campaign_enrollments_campaign_state_enrolled_at;
drop index if exists outreach.idx_tasks_scheduled_for;
drop index if exists outreach.idx_messages_created_at;
drop index if exists tracking.idx_campaign_daily_stats_day;

-- Names are nullable: people are ordered on coalesce(name, '') (src/graphql/name-order-plugin.ts).
create index idx_people_last_name
  on crm.people (organisation_id, (coalesce(last_name, '')), (coalesce(first_name, '')), id);
create index idx_people_first_name on crm.people (organisation_id, (coalesce(first_name, '')), id);
create index idx_people_created_at on crm.people (organisation_id, created_at, id);
create index idx_people_updated_at on crm.people (organisation_id, updated_at, id);
create index idx_companies_name on crm.companies (organisation_id, name, id);
create index idx_companies_created_at on crm.companies (organisation_id, created_at, id);
create index idx_companies_naf_sector on crm.companies (organisation_id, naf_sector, id);
create index idx_positions_created_at on crm.positions (organisation_id, created_at, id);
create index idx_campaigns_created_at on outreach.campaigns (organisation_id, created_at, id);
create index idx_campaign_enrollments_campaign_enrolled_at
  on outreach.campaign_enrollments (organisation_id, campaign_id, enrolled_at, id);
create index idx_campaign_enrollments_enrolled_at on outreach.campaign_enrollments (organisation_id, enrolled_at, id);
-- The campaign page: a campaign's enrolments in a state, latest first (filter and order in one index).
create index idx_campaign_enrollments_campaign_state_enrolled_at
  on outreach.campaign_enrollments (organisation_id, campaign_id, state, enrolled_at, id);
create index idx_tasks_scheduled_for on outreach.tasks (organisation_id, scheduled_for, id);
create index idx_messages_created_at on outreach.messages (organisation_id, created_at, id);
create index idx_campaign_daily_stats_day on tracking.campaign_daily_stats (organisation_id, day);

--! split: 530-dashboard-figures.sql
-- 530 dashboard figures: the campaign and A/B figures as numbers (Int counts, Float rates, not the
-- strings bigint and numeric become in GraphQL), and the grouped counts a dashboard needs without one
-- alias per value: people by status, a campaign's enrolments by state, tasks by status, messages
-- by status, and the organisation's totals per day over a date range. All security invoker: RLS
-- keeps every count to the caller's organisation. Every status appears, with 0 when none.
-- Replaces outreach.performance and the functions of 000003/000005 that return it.
-- Idempotent: drops its functions and types first.

drop function if exists outreach.campaigns_performance(outreach.campaigns);
drop function if exists outreach.step_experiment_variants_performance(outreach.step_experiment_variants);
drop function if exists outreach.campaigns_daily_performance(outreach.campaigns, date, date);
drop function if exists crm.people_status_counts();
drop function if exists outreach.campaigns_enrollment_state_counts(outreach.campaigns);
drop function if exists outreach.task_status_counts();
drop function if exists outreach.message_status_counts();
drop function if exists outreach.daily_totals(date, date);
drop type if exists outreach.performance;
drop type if exists outreach.daily_performance;
drop type if exists crm.person_status_count;
drop type if exists outreach.enrollment_state_count;
drop type if exists outreach.task_status_count;
drop type if exists outreach.message_status_count;

--------------------------------------------------------------------------------
-- Campaign and A/B variant figures.

create type outreach.performance as (
  enrolled integer,
  sent integer,
  opened integer,
  replied integer,
  open_rate double precision,
  reply_rate double precision
);
comment on type outreach.performance is
  'Figures of a campaign or an A/B variant: enrolments (or assignments), emails sent, emails opened at least once, '
  'enrolments that replied; open_rate = opened / sent and reply_rate = replied / sent, rounded to 4 decimals '
  '(null until something is sent).';

create function outreach.campaigns_performance(campaign outreach.campaigns) returns outreach.performance
  language sql stable
as $$
  select coalesce(sum(d.enrolled), 0)::integer, coalesce(sum(d.emails_sent), 0)::integer,
         coalesce(sum(d.emails_opened), 0)::integer, coalesce(sum(d.emails_replied), 0)::integer,
         round(sum(d.emails_opened)::numeric / nullif(sum(d.emails_sent), 0), 4)::double precision,
         round(sum(d.emails_replied)::numeric / nullif(sum(d.emails_sent), 0), 4)::double precision
    from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id;
$$;
comment on function outreach.campaigns_performance(outreach.campaigns) is
  'The campaign''s totals: enrolled, sent, opened, replied, open rate and reply rate.';

create type outreach.daily_performance as (
  day date,
  enrolled integer,
  emails_sent integer,
  emails_opened integer,
  emails_clicked integer,
  emails_replied integer
);
comment on type outreach.daily_performance is
  'Figures of one day (UTC): enrolments, emails sent, emails opened for the first time, clicks, enrolments that replied.';

create function outreach.campaigns_daily_performance(campaign outreach.campaigns, from_day date, to_day date)
  returns setof outreach.daily_performance
  language sql stable
as $$
  select d.day, d.enrolled::integer, d.emails_sent::integer, d.emails_opened::integer, d.emails_clicked::integer,
         d.emails_replied::integer
    from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id
     and d.day between from_day and to_day
   order by d.day;
$$;
comment on function outreach.campaigns_daily_performance(outreach.campaigns, date, date) is
  'The campaign''s figures per day (UTC) from from_day to to_day inclusive; days without activity are absent.';

create function outreach.step_experiment_variants_performance(variant outreach.step_experiment_variants)
  returns outreach.performance
  language sql stable
as $$
  select coalesce(s.assigned, 0)::integer, coalesce(s.emails_sent, 0)::integer, coalesce(s.emails_opened, 0)::integer,
         coalesce(s.emails_replied, 0)::integer,
         round(s.emails_opened::numeric / nullif(s.emails_sent, 0), 4)::double precision,
         round(s.emails_replied::numeric / nullif(s.emails_sent, 0), 4)::double precision
    from (select 1) as one
    left join tracking.variant_stats s on s.organisation_id = variant.organisation_id and s.variant_id = variant.id;
$$;
comment on function outreach.step_experiment_variants_performance(outreach.step_experiment_variants) is
  'The A/B variant''s figures: enrolments assigned, sent, opened, replied, open rate and reply rate.';

--------------------------------------------------------------------------------
-- Grouped counts: one row per value of the enumeration, in its order.

create type crm.person_status_count as (status text, count integer);
comment on type crm.person_status_count is
  E'@foreignKey (status) references reference.person_statuses (value)\nHow many people have this status.';

create function crm.people_status_counts() returns setof crm.person_status_count
  language sql stable
as $$
  select s.value, (select count(*) from crm.people p where p.status = s.value)::integer
    from reference.person_statuses s
   order by s.sort_order;
$$;
comment on function crm.people_status_counts() is
  E'@behavior -connection +list\n@listSuffix omit\nYour organisation''s people counted by status (every status, 0 when none).';

create type outreach.enrollment_state_count as (state text, count integer);
comment on type outreach.enrollment_state_count is
  E'@foreignKey (state) references reference.enrollment_states (value)\nHow many enrolments are in this state.';

create function outreach.campaigns_enrollment_state_counts(campaign outreach.campaigns)
  returns setof outreach.enrollment_state_count
  language sql stable
as $$
  select s.value,
         (select count(*) from outreach.campaign_enrollments e
           where e.organisation_id = campaign.organisation_id and e.campaign_id = campaign.id and e.state = s.value)::integer
    from reference.enrollment_states s
   order by s.sort_order;
$$;
comment on function outreach.campaigns_enrollment_state_counts(outreach.campaigns) is
  E'@behavior -connection +list\n@listSuffix omit\nThe campaign''s enrolments counted by state (every state, 0 when none).';

create type outreach.task_status_count as (status text, count integer);
comment on type outreach.task_status_count is
  E'@foreignKey (status) references reference.task_statuses (value)\nHow many tasks have this status.';

create function outreach.task_status_counts() returns setof outreach.task_status_count
  language sql stable
as $$
  select s.value, (select count(*) from outreach.tasks t where t.status = s.value)::integer
    from reference.task_statuses s
   order by s.sort_order;
$$;
comment on function outreach.task_status_counts() is
  E'@behavior -connection +list\n@listSuffix omit\nYour organisation''s tasks counted by status (every status, 0 when none).';

create type outreach.message_status_count as (status text, count integer);
comment on type outreach.message_status_count is
  E'@foreignKey (status) references reference.message_statuses (value)\nHow many messages have this status.';

create function outreach.message_status_counts() returns setof outreach.message_status_count
  language sql stable
as $$
  select s.value, (select count(*) from outreach.messages m where m.status = s.value)::integer
    from reference.message_statuses s
   order by s.sort_order;
$$;
comment on function outreach.message_status_counts() is
  E'@behavior -connection +list\n@listSuffix omit\nYour organisation''s messages counted by status (every status, 0 when none).';

create function outreach.daily_totals(from_day date, to_day date) returns setof outreach.daily_performance
  language plpgsql stable
as $$
begin
  if from_day is null or to_day is null or from_day > to_day or to_day - from_day > 366 then
    raise exception 'Invalid input: fromDay and toDay must be a range of at most 367 days, fromDay first.'
      using errcode = 'PT130';
  end if;
  return query
    select g.day::date, coalesce(sum(d.enrolled), 0)::integer, coalesce(sum(d.emails_sent), 0)::integer,
           coalesce(sum(d.emails_opened), 0)::integer, coalesce(sum(d.emails_clicked), 0)::integer,
           coalesce(sum(d.emails_replied), 0)::integer
      from generate_series(from_day, to_day, interval '1 day') as g(day)
      left join tracking.campaign_daily_stats d
        on d.organisation_id = (select app_hidden.current_organisation_id()) and d.day = g.day::date
     group by g.day
     order by g.day;
end;
$$;
comment on function outreach.daily_totals(date, date) is
  E'@behavior -connection +list\n@listSuffix omit\nYour organisation''s figures per day (UTC) over every campaign, from fromDay to toDay '
  'inclusive (at most 367 days); days without activity are 0.';

grant execute on function
  outreach.campaigns_performance(outreach.campaigns),
  outreach.campaigns_daily_performance(outreach.campaigns, date, date),
  outreach.step_experiment_variants_performance(outreach.step_experiment_variants),
  crm.people_status_counts(),
  outreach.campaigns_enrollment_state_counts(outreach.campaigns),
  outreach.task_status_counts(),
  outreach.message_status_counts(),
  outreach.daily_totals(date, date)
  to :DATABASE_VISITOR;

--! split: 540-membership-enums.sql
-- 540 membership enums: the role an invitation offers becomes a GraphQL enum like the other
-- roles (500). It is its own lookup table, not reference.member_roles: ownership is never
-- offered by invitation (transferOwnership does that), so `owner` is not a value. The CHECK
-- becomes a foreign key of the same name; rows are kept. Idempotent: drops the lookup table (and
-- with it the foreign key) first; the original CHECK once.
drop table if exists reference.invitation_roles cascade;
alter table iam.invitations drop constraint if exists invitations_role_valid;

create table reference.invitation_roles (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.invitation_roles enable row level security;
create policy select_all on reference.invitation_roles for select using (true);
grant select on reference.invitation_roles to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.invitation_roles is E'@enum\n@enumName InvitationRole\nThe roles an invitation can offer (ownership is offered with transferOwnership, never by invitation).';
insert into reference.invitation_roles (value, description, sort_order) values
  ('admin', 'Manages members and settings', 1),
  ('member', 'Reads and writes the organisation''s data', 2),
  ('viewer', 'Reads only', 3);
alter table iam.invitations add constraint invitations_role_valid foreign key (role) references reference.invitation_roles (value);
