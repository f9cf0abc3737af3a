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
