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
