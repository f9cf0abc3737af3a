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
