-- The benchmark data set, generated set-based in SQL by `npm run bench:seed` (bench/seed/seed.ts).
--
-- Runs as the database owner, in one transaction, on a freshly migrated bench database. Every
-- phase below is one statement over all organisations; seed.ts prints a progress line per phase.
-- It starts from pg_temp.bench_preset (one row: how many organisations, how many large, how big
-- the large and the small ones are), which seed.ts fills first.
--
-- Ids are deterministic (md5 of kind, organisation number and row number, cast to uuid): rows
-- reference each other by recomputing ids instead of joining, and every run builds the same data.
-- The behaviour triggers (scheduling, pixels on send, counters, audit) are disabled while seeding;
-- what they would have written (tasks, pixels, open figures, daily and A/B figures) is generated
-- here from the same rows, so the figures the dashboard reads agree with the rows they count.
-- Foreign keys and checks stay on: the data satisfies every invariant of the schema.

--- phase: plan
-- Draft campaigns (every fifth) get no enrolments: enrolment n goes to the n-th non-draft campaign.
create function pg_temp.bench_campaign_number(n integer, campaigns integer) returns integer
  language sql immutable
as $$ select j + j / 4 + 1 from (select n % (campaigns - campaigns / 5) as j) as s $$;

-- Seeded pixel tokens are numbered (still 32 characters of the token alphabet) so that the load
-- generators and pgbench can pick real ones without reading them first.
create function pg_temp.bench_pixel_token(n bigint) returns text
  language sql immutable
as $$ select 'bench-px-' || lpad(n::text, 23, '0') $$;

-- One row per organisation with its size. The small probe organisation (the last one) is the same
-- in every preset (k = 1000000, 300 people): its dashboard is compared across presets.
create temp table bench_plan on commit drop as
select k, md5(format('organisation:%s', k))::uuid as organisation_id, kind, people,
       case kind when 'large' then people / 25 when 'probe' then 30 else greatest(people / 10, 5) end as companies,
       case kind when 'large' then 20 when 'probe' then 3 else 1 + k % 3 end as campaigns,
       people * 2 / 5 as enrolled
  from pg_temp.bench_preset s,
       generate_series(1, s.organisations) as i,
       lateral (select case when i <= s.large then 'large' when i = s.organisations then 'probe' else 'small' end as kind) as x,
       lateral (select case when kind = 'probe' then 1000000 else i end as k) as y,
       lateral (select case kind when 'large' then s.large_people when 'probe' then 300
                       else s.small_people_least + (i * 7919) % (s.small_people_most - s.small_people_least + 1) end as people) as z;

--- phase: organisations
insert into iam.organisations (id, name, slug, tier, created_at, updated_at)
select p.organisation_id,
       case p.kind when 'probe' then 'Bench small probe organisation' else format('Bench organisation %s', p.k) end,
       case p.kind when 'probe' then 'bench-small-probe' else format('bench-org-%s', p.k) end,
       case p.kind when 'large' then 'enterprise' else (array['free', 'pro'])[1 + p.k % 2] end,
       now() - interval '400 days', now() - interval '400 days'
  from pg_temp.bench_plan p;

--- phase: users and memberships
insert into iam.users (id, email, first_name, last_name, created_at, updated_at)
select md5(format('user:%s:%s', p.k, r.role))::uuid,
       format('%s@org-%s.bench.test', r.role, p.k),
       initcap(r.role), format('Org%s', p.k),
       now() - interval '400 days', now() - interval '400 days'
  from pg_temp.bench_plan p, unnest(array['owner', 'member']) as r(role);

insert into iam.organisation_users (organisation_id, user_id, role, created_at, updated_at)
select p.organisation_id, md5(format('user:%s:%s', p.k, r.role))::uuid, r.role,
       now() - interval '400 days', now() - interval '400 days'
  from pg_temp.bench_plan p, unnest(array['owner', 'member']) as r(role);

--- phase: companies
insert into crm.companies (organisation_id, id, name, siren, naf_sector, industry, employee_range,
                           annual_revenue_eur, founding_year, growing, website_url, created_at, updated_at)
select p.organisation_id,
       md5(format('company:%s:%s', p.k, n))::uuid,
       format('%s %s %s', (array['Atelier', 'Groupe', 'Maison', 'Société', 'Compagnie', 'Cabinet', 'Studio', 'Laboratoire'])[1 + h % 8],
              (array['Durand', 'Lefèvre', 'Moreau', 'Girard', 'Bonnet', 'Dupuis', 'Lambert', 'Fontaine', 'Rousseau', 'Vincent'])[1 + (h / 8) % 10],
              n),
       lpad(((p.k::bigint * 1000003 + n * 7919) % 1000000000)::text, 9, '0'),
       (array['62.01Z', '70.22Z', '46.90Z', '47.91B', '49.41A', '71.12B'])[1 + (h / 80) % 6],
       (array['Software', 'Consulting', 'Wholesale', 'Retail', 'Logistics', 'Engineering'])[1 + (h / 80) % 6],
       (array['1-10', '11-50', '51-200', '201-500', '500+'])[1 + (h / 480) % 5],
       (h % 50000) * 1000::bigint,
       1950 + h % 74,
       h % 3 = 0,
       format('https://company-%s.org-%s.bench.test', n, p.k),
       now() - make_interval(days => (30 + h % 300)::int), now() - make_interval(days => (h % 30)::int)
  from pg_temp.bench_plan p,
       generate_series(1, p.companies) as n,
       lateral (select abs(hashint8(p.k::bigint * 1000003 + n)::bigint) as h) as x;

--- phase: people
insert into crm.people (organisation_id, id, first_name, last_name, email, status, mobile_phone, linkedin_url,
                        created_at, updated_at)
select p.organisation_id,
       md5(format('person:%s:%s', p.k, n))::uuid,
       (array['Camille', 'Louis', 'Chloé', 'Hugo', 'Léa', 'Jules', 'Manon', 'Gabriel', 'Inès', 'Arthur',
              'Jade', 'Raphaël', 'Louise', 'Adam', 'Emma', 'Paul', 'Alice', 'Nathan', 'Lina', 'Tom'])[1 + h % 20],
       (array['Martin', 'Bernard', 'Thomas', 'Petit', 'Robert', 'Richard', 'Durand', 'Dubois', 'Moreau', 'Laurent',
              'Simon', 'Michel', 'Lefebvre', 'Leroy', 'Roux', 'David', 'Bertrand', 'Morel', 'Fournier', 'Girard',
              'Bonnet', 'Dupont', 'Lambert', 'Fontaine', 'Rousseau'])[1 + (h / 20) % 25],
       format('person-%s@org-%s.bench.test', n, p.k),
       -- Most prospects are new; the rest spread over the funnel.
       (array['new', 'new', 'new', 'new', 'new', 'new', 'new', 'new', 'queued', 'queued',
              'researched', 'researched', 'researched', 'contacted', 'contacted', 'contacted', 'contacted',
              'replied', 'converted', 'unsubscribed'])[1 + (h / 500) % 20],
       case when h % 3 = 0 then format('+33 6 %s', lpad((h % 100000000)::text, 8, '0')) end,
       case when h % 2 = 0 then format('https://www.linkedin.com/in/person-%s-%s', p.k, n) end,
       now() - make_interval(days => (h % 365)::int), now() - make_interval(days => (h % 30)::int)
  from pg_temp.bench_plan p,
       generate_series(1, p.people) as n,
       lateral (select abs(hashint8(p.k::bigint * 7000003 + n)::bigint) as h) as x;

--- phase: positions
insert into crm.positions (organisation_id, id, person_id, company_id, job_title, email, email_status,
                           email_reliability, created_at, updated_at)
select p.organisation_id,
       md5(format('position:%s:%s', p.k, n))::uuid,
       md5(format('person:%s:%s', p.k, n))::uuid,
       md5(format('company:%s:%s', p.k, 1 + h % p.companies))::uuid,
       (array['CEO', 'CTO', 'Head of Sales', 'Marketing Director', 'Operations Manager', 'CFO', 'Buyer', 'HR Director'])[1 + (h / 7) % 8],
       format('work-%s@org-%s.bench.test', n, p.k),
       (array['valid', 'valid', 'valid', 'risky', 'catch_all', 'unknown', 'invalid'])[1 + (h / 56) % 7],
       (h % 10001) / 100.0,
       now() - make_interval(days => (h % 365)::int), now() - make_interval(days => (h % 30)::int)
  from pg_temp.bench_plan p,
       generate_series(1, p.people) as n,
       lateral (select abs(hashint8(p.k::bigint * 9000011 + n)::bigint) as h) as x;

--- phase: prompts and campaigns
insert into outreach.prompts (organisation_id, id, name, purpose, model, version, is_active, prompt_text, created_at, updated_at)
select p.organisation_id, md5(format('prompt:%s:%s', p.k, v))::uuid, 'intro-email', 'First email of a sequence', 'gpt-4o',
       v, v = 2, format('Write a short first email to {{first_name}} at {{company}} (version %s).', v),
       now() - interval '200 days', now() - interval '200 days'
  from pg_temp.bench_plan p, generate_series(1, 2) as v;

insert into outreach.campaigns (organisation_id, id, name, value_proposition, status, template_id, created_by_user_id,
                                created_at, updated_at)
select p.organisation_id, md5(format('campaign:%s:%s', p.k, c))::uuid,
       format('Campaign %s: %s', c, (array['Q4 logistics', 'Spring launch', 'Retail push', 'Partner intro', 'Win-back'])[1 + (c - 1) % 5]),
       'Cut last-mile delivery costs by 20%',
       -- Every fifth campaign is a draft: pg_temp.bench_campaign_number() skips them.
       (array['active', 'active', 'paused', 'completed', 'draft'])[1 + (c - 1) % 5],
       md5(format('prompt:%s:2', p.k))::uuid,
       md5(format('user:%s:member', p.k))::uuid,
       now() - make_interval(days => 70 + c), now() - make_interval(days => c)
  from pg_temp.bench_plan p, generate_series(1, p.campaigns) as c;

--- phase: steps and A/B tests
insert into outreach.workflow_steps (organisation_id, id, campaign_id, step_index, name, kind, delay_days, created_at, updated_at)
select p.organisation_id, md5(format('step:%s:%s:%s', p.k, c, s))::uuid, md5(format('campaign:%s:%s', p.k, c))::uuid,
       s, (array['Intro email', 'Follow-up', 'Last try'])[s + 1], 'email', (array[0, 3, 7])[s + 1],
       now() - make_interval(days => 70 + c), now() - make_interval(days => 70 + c)
  from pg_temp.bench_plan p, generate_series(1, p.campaigns) as c, generate_series(0, 2) as s;

insert into outreach.step_experiments (organisation_id, id, workflow_step_id, name, status, created_at, updated_at)
select p.organisation_id, md5(format('experiment:%s:%s', p.k, c))::uuid, md5(format('step:%s:%s:0', p.k, c))::uuid,
       'Subject line',
       case (c - 1) % 5 when 4 then 'draft' when 3 then 'completed' else 'running' end,
       now() - make_interval(days => 70 + c), now() - make_interval(days => 70 + c)
  from pg_temp.bench_plan p, generate_series(1, p.campaigns) as c;

insert into outreach.step_experiment_variants (organisation_id, id, step_experiment_id, key, weight, prompt_id,
                                               subject_template, created_at, updated_at)
select p.organisation_id, md5(format('variant:%s:%s:%s', p.k, c, v.key))::uuid, md5(format('experiment:%s:%s', p.k, c))::uuid,
       v.key, 1, md5(format('prompt:%s:2', p.k))::uuid, v.subject,
       now() - make_interval(days => 70 + c), now() - make_interval(days => 70 + c)
  from pg_temp.bench_plan p, generate_series(1, p.campaigns) as c,
       (values ('A', 'Quick question about {{company}}'), ('B', 'An idea for {{company}}')) as v(key, subject);

--- phase: enrolments (working set)
-- One row per enrolment with everything later phases derive from it; dropped at commit.
create temp table bench_enrolments on commit drop as
select p.k, n, p.organisation_id,
       md5(format('enrollment:%s:%s', p.k, n))::uuid as enrollment_id,
       md5(format('position:%s:%s', p.k, n))::uuid as position_id,
       cn.c,
       md5(format('campaign:%s:%s', p.k, cn.c))::uuid as campaign_id,
       md5(format('variant:%s:%s:%s', p.k, cn.c, case when h % 2 = 0 then 'A' else 'B' end))::uuid as variant_id,
       e.enrolled_at,
       d.days_ago,
       -- 5% replied after the first email, 3% unsubscribed; the rest go through the three steps.
       case when h % 100 < 5 then 'replied' when h % 100 < 8 then 'unsubscribed'
            when d.days_ago >= 10 then 'completed' else 'active' end as state,
       h
  from pg_temp.bench_plan p,
       generate_series(1, p.enrolled) as n,
       lateral (select abs(hashint8(p.k::bigint * 5000011 + n)::bigint) as h) as x,
       lateral (select (h / 100) % 60 as days_ago) as d,
       lateral (select now() - make_interval(days => d.days_ago::int, mins => (h % 1440)::int) as enrolled_at) as e,
       lateral (select pg_temp.bench_campaign_number(n::int, p.campaigns) as c) as cn;

--- phase: enrolments
insert into outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id, state, enrolled_at,
                                           last_activity_at, stopped_reason, created_at, updated_at)
select e.organisation_id, e.enrollment_id, e.campaign_id, e.position_id, e.state, e.enrolled_at,
       e.enrolled_at + case when e.days_ago >= 10 then interval '10 days' when e.days_ago >= 3 then interval '3 days' else interval '5 minutes' end,
       case when e.state in ('replied', 'unsubscribed') then e.state end,
       e.enrolled_at, e.enrolled_at
  from pg_temp.bench_enrolments e;

insert into outreach.enrollment_step_variant_assignments (organisation_id, enrollment_id, workflow_step_id, step_experiment_id,
                                                          variant_id, assigned_at)
select e.organisation_id, e.enrollment_id, md5(format('step:%s:%s:0', e.k, e.c))::uuid, md5(format('experiment:%s:%s', e.k, e.c))::uuid,
       e.variant_id, e.enrolled_at
  from pg_temp.bench_enrolments e;

--- phase: tasks (working set)
-- Step 0 is done for every enrolment; replied and unsubscribed enrolments stop there; the others
-- completed each step whose day has come (days 0, 3 and 10 after enrolment) and have the next
-- one queued, so an active enrolment has exactly one queued task.
create temp table bench_tasks on commit drop as
select e.*, s.step,
       md5(format('task:%s:%s:%s', e.k, e.n, s.step))::uuid as task_id,
       md5(format('step:%s:%s:%s', e.k, e.c, s.step))::uuid as workflow_step_id,
       e.enrolled_at + make_interval(days => s.day) as scheduled_for,
       e.days_ago >= s.day as done
  from pg_temp.bench_enrolments e,
       (values (0, 0, 0), (1, 3, 0), (2, 10, 3)) as s(step, day, previous_day)
 where s.step = 0
    or (e.state not in ('replied', 'unsubscribed') and e.days_ago >= s.previous_day);

--- phase: tasks
insert into outreach.tasks (organisation_id, id, enrollment_id, workflow_step_id, task_type, scheduled_for, status,
                            attempts, completed_at, created_at, updated_at)
select t.organisation_id, t.task_id, t.enrollment_id, t.workflow_step_id, 'send', t.scheduled_for,
       case when t.done then 'completed' else 'queued' end,
       case when t.done then 1 else 0 end,
       case when t.done then t.scheduled_for + interval '5 minutes' end,
       t.enrolled_at, coalesce(t.scheduled_for + case when t.done then interval '5 minutes' end, t.enrolled_at)
  from pg_temp.bench_tasks t;

--- phase: messages (working set)
create temp table bench_messages on commit drop as
select t.organisation_id, t.k, t.n, t.step, t.c, t.campaign_id, t.enrollment_id, t.position_id, t.task_id, t.h,
       md5(format('message:%s:%s:%s', t.k, t.n, t.step))::uuid as message_id,
       case when t.step = 0 then md5(format('experiment:%s:%s', t.k, t.c))::uuid end as step_experiment_id,
       case when t.step = 0 then t.variant_id end as variant_id,
       t.scheduled_for + interval '5 minutes' as sent_at,
       -- Pixel tokens are numbered, newest email first, so that load generators can pick real
       -- ones, among recent emails as real opens do (bench/scenarios.ts).
       row_number() over (order by t.scheduled_for desc, t.k, t.n, t.step) as pixel_number
  from pg_temp.bench_tasks t
 where t.done;

--- phase: messages
insert into outreach.messages (organisation_id, id, campaign_id, enrollment_id, task_id, position_id, direction, status,
                               provider, provider_thread_id, rfc822_message_id, step_experiment_id, variant_id, subject,
                               body_text, sent_at, created_at, updated_at)
select m.organisation_id, m.message_id, m.campaign_id, m.enrollment_id, m.task_id, m.position_id, 'outbound', 'sent',
       'gmail', format('thread-%s-%s', m.k, m.n), format('<m-%s-%s-%s@org-%s.bench.test>', m.k, m.n, m.step, m.k),
       m.step_experiment_id, m.variant_id,
       (array['Quick question about your deliveries', 'Following up', 'One last idea'])[m.step + 1],
       'Hello, a short note about cutting last-mile delivery costs.',
       m.sent_at, m.sent_at, m.sent_at
  from pg_temp.bench_messages m;

-- Replies, to the first email, of the enrolments that replied.
insert into outreach.messages (organisation_id, id, campaign_id, enrollment_id, position_id, direction, status, provider,
                               provider_thread_id, in_reply_to, body_text, received_at, created_at, updated_at)
select e.organisation_id, md5(format('reply:%s:%s', e.k, e.n))::uuid, e.campaign_id, e.enrollment_id, e.position_id,
       'inbound', 'received', 'gmail', format('thread-%s-%s', e.k, e.n), format('<m-%s-%s-0@org-%s.bench.test>', e.k, e.n, e.k),
       'Sounds interesting, can we talk on Thursday?',
       e.enrolled_at + interval '1 day', e.enrolled_at + interval '1 day', e.enrolled_at + interval '1 day'
  from pg_temp.bench_enrolments e
 where e.state = 'replied';

--- phase: pixels
insert into tracking.pixels (organisation_id, id, message_id, token, created_at)
select m.organisation_id, md5(format('pixel:%s:%s:%s', m.k, m.n, m.step))::uuid, m.message_id,
       pg_temp.bench_pixel_token(m.pixel_number), m.sent_at
  from pg_temp.bench_messages m;

--- phase: opens
-- 45% of emails are opened, one to three times, sometimes from a second device.
insert into tracking.open_events (organisation_id, id, message_id, pixel_id, opened_at, ip_address, user_agent, opener_hash)
select m.organisation_id, md5(format('open:%s:%s:%s:%s', m.k, m.n, m.step, i))::uuid, m.message_id,
       md5(format('pixel:%s:%s:%s', m.k, m.n, m.step))::uuid,
       least(now(), m.sent_at + make_interval(hours => i * (1 + (m.h % 7)::int))),
       o.ip, o.user_agent,
       md5(coalesce(host(o.ip), '') || '|' || coalesce(o.user_agent, ''))
  from pg_temp.bench_messages m,
       generate_series(1, 1 + ((m.h / 7) % 3)::int) as i,
       lateral (select format('198.51.100.%s', 1 + (m.h + case when i = 3 then 17 else 0 end) % 250)::inet as ip,
                       (array['Mozilla/5.0 (Windows NT 10.0) Outlook/16.0', 'Mozilla/5.0 (iPhone) Mail/604.1',
                              'Mozilla/5.0 (Macintosh) AppleMail/16.0'])[1 + (m.h + i / 3) % 3] as user_agent) as o
 where (m.h / 3 + m.step) % 100 < 45;

--- phase: open figures
insert into tracking.message_open_stats (organisation_id, message_id, first_open_at, last_open_at, total_opens, unique_opens, updated_at)
select o.organisation_id, o.message_id, min(o.opened_at), max(o.opened_at), count(*), count(distinct o.opener_hash), max(o.opened_at)
  from tracking.open_events o
 group by o.organisation_id, o.message_id;

--- phase: dashboard figures
insert into tracking.campaign_daily_stats (organisation_id, campaign_id, day, enrolled, emails_sent, emails_opened, emails_replied)
select organisation_id, campaign_id, day, sum(enrolled), sum(sent), sum(opened), sum(replied)
  from (
    select e.organisation_id, e.campaign_id, (e.enrolled_at at time zone 'UTC')::date as day, 1 as enrolled, 0 as sent, 0 as opened, 0 as replied
      from pg_temp.bench_enrolments e
    union all
    select m.organisation_id, m.campaign_id, (m.sent_at at time zone 'UTC')::date, 0, 1, 0, 0
      from pg_temp.bench_messages m
    union all
    select m.organisation_id, m.campaign_id, (s.first_open_at at time zone 'UTC')::date, 0, 0, 1, 0
      from pg_temp.bench_messages m
      join tracking.message_open_stats s on s.organisation_id = m.organisation_id and s.message_id = m.message_id
    union all
    select e.organisation_id, e.campaign_id, ((e.enrolled_at + interval '1 day') at time zone 'UTC')::date, 0, 0, 0, 1
      from pg_temp.bench_enrolments e
     where e.state = 'replied'
  ) as figures
 group by organisation_id, campaign_id, day;

insert into tracking.variant_stats (organisation_id, step_experiment_id, variant_id, assigned, emails_sent, emails_opened, emails_replied)
select e.organisation_id, md5(format('experiment:%s:%s', e.k, e.c))::uuid, e.variant_id,
       count(*), count(*),
       count(s.message_id),
       count(*) filter (where e.state = 'replied')
  from pg_temp.bench_enrolments e
  left join tracking.message_open_stats s
    on s.organisation_id = e.organisation_id and s.message_id = md5(format('message:%s:%s:0', e.k, e.n))::uuid
 group by e.organisation_id, e.k, e.c, e.variant_id;

--- phase: status totals
-- What the status-count triggers (off while seeding) would have kept: people, tasks and messages
-- per organisation and status (app_private.status_totals).
select app_hidden.recount_status_totals(null);
