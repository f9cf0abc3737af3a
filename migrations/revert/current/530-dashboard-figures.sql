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
