--! Reverts: sha1:c00e018a6b41f3cfec47714ae90f65a78de87ee3

-- Reverts 000008 (dashboard-grade queries): back to the schema of the migration before it. What each part loses is
-- said at its head. Parts in reverse order of the migration's files (newest first).

--------------------------------------------------------------------------------
-- Reverts 540 (the invitation role lookup table): loses nothing; the CHECK of 400 comes back.
alter table iam.invitations drop constraint if exists invitations_role_valid;
drop table if exists reference.invitation_roles;
alter table iam.invitations add constraint invitations_role_valid check (role in ('admin', 'member', 'viewer'));

--------------------------------------------------------------------------------
-- Loses no data: only the grouped-count functions and their row types (computed from the tables on each call).
-- Revert part of migrations/current/530-dashboard-figures.sql (see README, "Migrations: rolling one
-- back"): drops the grouped counts (people by status, enrolments by state, tasks, messages, daily
-- totals) and their composite types, and the figures' functions and types it re-created; then
-- re-creates outreach.performance with its 000003 columns (bigint counts, numeric rates) and the
-- three figures' functions as 000005 last defined them (no pinned search_path), with the comments
-- and grant of 000003. campaigns_daily_performance returns tracking.campaign_daily_stats rows again.
drop function outreach.daily_totals(date, date);
drop function outreach.message_status_counts();
drop function outreach.task_status_counts();
drop function outreach.campaigns_enrollment_state_counts(outreach.campaigns);
drop function crm.people_status_counts();
drop type outreach.message_status_count;
drop type outreach.task_status_count;
drop type outreach.enrollment_state_count;
drop type crm.person_status_count;
drop function outreach.step_experiment_variants_performance(outreach.step_experiment_variants);
drop function outreach.campaigns_daily_performance(outreach.campaigns, date, date);
drop function outreach.campaigns_performance(outreach.campaigns);
drop type outreach.daily_performance;
drop type outreach.performance;

create type outreach.performance as (
  enrolled bigint,
  sent bigint,
  opened bigint,
  replied bigint,
  open_rate numeric,
  reply_rate numeric
);
comment on type outreach.performance is
  'Figures of a campaign or an A/B variant: enrolments (or assignments), emails sent, emails opened at least once, '
  'enrolments that replied; open_rate = opened / sent and reply_rate = replied / sent (null until something is sent).';

create function outreach.campaigns_performance(campaign outreach.campaigns) returns outreach.performance
  language sql stable
as $$
  select coalesce(sum(d.enrolled), 0)::bigint, coalesce(sum(d.emails_sent), 0)::bigint,
         coalesce(sum(d.emails_opened), 0)::bigint, coalesce(sum(d.emails_replied), 0)::bigint,
         round(sum(d.emails_opened)::numeric / nullif(sum(d.emails_sent), 0), 4),
         round(sum(d.emails_replied)::numeric / nullif(sum(d.emails_sent), 0), 4)
    from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id;
$$;

create function outreach.campaigns_daily_performance(campaign outreach.campaigns, from_day date, to_day date)
  returns setof tracking.campaign_daily_stats
  language sql stable
as $$
  select d.* from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id
     and d.day between from_day and to_day
   order by d.day;
$$;

create function outreach.step_experiment_variants_performance(variant outreach.step_experiment_variants)
  returns outreach.performance
  language sql stable
as $$
  select coalesce(s.assigned, 0), coalesce(s.emails_sent, 0), coalesce(s.emails_opened, 0), coalesce(s.emails_replied, 0),
         round(s.emails_opened::numeric / nullif(s.emails_sent, 0), 4),
         round(s.emails_replied::numeric / nullif(s.emails_sent, 0), 4)
    from (select 1) as one
    left join tracking.variant_stats s on s.organisation_id = variant.organisation_id and s.variant_id = variant.id;
$$;

comment on function outreach.campaigns_performance(outreach.campaigns) is
  'The campaign''s totals: enrolled, sent, opened, replied, open rate and reply rate.';
comment on function outreach.campaigns_daily_performance(outreach.campaigns, date, date) is
  'The campaign''s figures per day (UTC) from from_day to to_day inclusive; days without activity are absent.';
comment on function outreach.step_experiment_variants_performance(outreach.step_experiment_variants) is
  'The A/B variant''s figures: enrolments assigned, sent, opened, replied, open rate and reply rate.';

grant execute on function
  outreach.campaigns_performance(outreach.campaigns),
  outreach.campaigns_daily_performance(outreach.campaigns, date, date),
  outreach.step_experiment_variants_performance(outreach.step_experiment_variants)
  to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- Loses no data: only the ordering and filter indexes (the orders and filters they serve run slower, by a sort).
-- Revert part of migrations/current/520-dashboard-ordering.sql (see README, "Migrations: rolling one
-- back"): drops the fifteen indexes it created (none of them existed before it).
drop index crm.idx_people_last_name;
drop index crm.idx_people_first_name;
drop index crm.idx_people_created_at;
drop index crm.idx_people_updated_at;
drop index crm.idx_companies_name;
drop index crm.idx_companies_created_at;
drop index crm.idx_companies_naf_sector;
drop index crm.idx_positions_created_at;
drop index outreach.idx_campaigns_created_at;
drop index outreach.idx_campaign_enrollments_campaign_enrolled_at;
drop index outreach.idx_campaign_enrollments_enrolled_at;
drop index outreach.idx_campaign_enrollments_campaign_state_enrolled_at;
drop index outreach.idx_tasks_scheduled_for;
drop index outreach.idx_messages_created_at;
drop index tracking.idx_campaign_daily_stats_day;

--------------------------------------------------------------------------------
-- Loses no data: only the generated search documents of people, companies and positions (computed from their columns).
-- Revert part of migrations/current/510-dashboard-search.sql (see README, "Migrations: rolling one
-- back"): drops the matching functions, the three generated search_document columns (and with them
-- their trigram indexes), the search-document functions, then the extensions it installed
-- (btree_gin, unaccent, pg_trgm) and the extensions schema. No cascade: if anything else has come
-- to use them since, the revert stops instead of dropping it. (If pg_trgm or unaccent had been
-- installed before the migration, in another schema, the forward one kept it there; this drops it.)
drop function app_hidden.people_matching(text);
drop function app_hidden.companies_matching(text);
drop function app_hidden.positions_matching(text);

alter table crm.people drop column search_document;
alter table crm.companies drop column search_document;
alter table crm.positions drop column search_document;

drop function app_hidden.people_search_document(text, text, text);
drop function app_hidden.companies_search_document(text, text, text, text);
drop function app_hidden.positions_search_document(text, text);
drop function app_hidden.search_pattern(text);
drop function app_hidden.search_text(text);

drop extension btree_gin;
drop extension unaccent;
drop extension pg_trgm;
drop schema extensions;

--------------------------------------------------------------------------------
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
