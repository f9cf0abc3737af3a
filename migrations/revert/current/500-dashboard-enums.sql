-- Loses no tenant data: only the rows of the fifteen lookup tables (value, description, sort order; 500-dashboard-enums.sql restates them).
-- Revert part of migrations/current/500-dashboard-enums.sql (see README, "Migrations: rolling one
-- back"): drops the foreign keys to the lookup tables, then the lookup tables, then restores the
-- CHECK constraints (same names, same lists as 000001-000004 defined them). Every row is kept; the
-- checks are validated, so a value added to a lookup table since (none is in the migration) stops
-- the revert rather than being kept unchecked. GraphQL enums become String again.

alter table iam.organisations drop constraint organisations_tier_valid;
alter table iam.organisations drop constraint organisations_status_valid;
alter table iam.organisation_users drop constraint organisation_users_role_valid;
alter table reference.role_permissions drop constraint role_permissions_role_valid;
alter table iam.organisation_users drop constraint organisation_users_status_valid;
alter table crm.people drop constraint people_status_valid;
alter table crm.positions drop constraint positions_email_status_valid;
alter table outreach.campaigns drop constraint campaigns_status_valid;
alter table outreach.workflow_steps drop constraint workflow_steps_kind_valid;
alter table outreach.step_experiments drop constraint step_experiments_status_valid;
alter table outreach.campaign_enrollments drop constraint campaign_enrollments_state_valid;
alter table outreach.tasks drop constraint tasks_task_type_valid;
alter table outreach.tasks drop constraint tasks_status_valid;
alter table outreach.messages drop constraint messages_direction_valid;
alter table outreach.messages drop constraint messages_status_valid;
alter table outreach.messages drop constraint messages_provider_valid;

drop table reference.organisation_tiers;
drop table reference.organisation_statuses;
drop table reference.member_roles;
drop table reference.membership_statuses;
drop table reference.person_statuses;
drop table reference.email_statuses;
drop table reference.campaign_statuses;
drop table reference.step_kinds;
drop table reference.experiment_statuses;
drop table reference.enrollment_states;
drop table reference.task_types;
drop table reference.task_statuses;
drop table reference.message_directions;
drop table reference.message_statuses;
drop table reference.message_providers;

alter table iam.organisations add constraint organisations_tier_valid check (tier in ('free', 'pro', 'enterprise'));
alter table iam.organisations add constraint organisations_status_valid check (status in ('active', 'suspended'));
alter table iam.organisation_users add constraint organisation_users_role_valid check (role in ('owner', 'admin', 'member', 'viewer'));
alter table reference.role_permissions add constraint role_permissions_role_valid check (role in ('owner', 'admin', 'member', 'viewer'));
alter table iam.organisation_users add constraint organisation_users_status_valid check (status in ('active', 'invited', 'disabled'));
alter table crm.people add constraint people_status_valid check (status in ('new', 'queued', 'researched', 'contacted', 'replied', 'converted', 'unsubscribed', 'bounced'));
alter table crm.positions add constraint positions_email_status_valid check (email_status in ('unknown', 'valid', 'risky', 'catch_all', 'invalid'));
alter table outreach.campaigns add constraint campaigns_status_valid check (status in ('draft', 'active', 'paused', 'completed', 'archived'));
alter table outreach.workflow_steps add constraint workflow_steps_kind_valid check (kind in ('email', 'linkedin_message', 'call', 'manual_task'));
alter table outreach.step_experiments add constraint step_experiments_status_valid check (status in ('draft', 'running', 'stopped', 'completed'));
alter table outreach.campaign_enrollments add constraint campaign_enrollments_state_valid check (state in ('active', 'paused', 'completed', 'replied', 'bounced', 'unsubscribed', 'stopped'));
alter table outreach.tasks add constraint tasks_task_type_valid check (task_type in ('research', 'draft', 'send', 'follow_up'));
alter table outreach.tasks add constraint tasks_status_valid check (status in ('queued', 'processing', 'completed', 'failed', 'cancelled'));
alter table outreach.messages add constraint messages_direction_valid check (direction in ('outbound', 'inbound'));
alter table outreach.messages add constraint messages_status_valid check (status in ('draft', 'pending_review', 'approved', 'sent', 'failed', 'bounced', 'received'));
alter table outreach.messages add constraint messages_provider_valid check (provider in ('gmail', 'outlook', 'smtp', 'manual'));
