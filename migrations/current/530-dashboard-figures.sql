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
