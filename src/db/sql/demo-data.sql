-- Demo data, loaded by `npm start` only while the database holds no organisation.
-- Two organisations, each with a user for every role, plus one user in both.
-- Every demo password is: prospectflow-demo
-- Runs as the owner (RLS does not apply to the table owner), so it names organisation_id itself.

insert into iam.organisations (id, name, slug, tier) values
  ('0a000000-0000-4000-8000-000000000001', 'Acme Outreach', 'acme', 'pro'),
  ('0b000000-0000-4000-8000-000000000001', 'Globex Sales', 'globex', 'free');

insert into iam.users (id, email, first_name, last_name) values
  ('1a000000-0000-4000-8000-000000000001', 'olivia@acme.test', 'Olivia', 'Owner'),
  ('1a000000-0000-4000-8000-000000000002', 'adam@acme.test', 'Adam', 'Admin'),
  ('1a000000-0000-4000-8000-000000000003', 'maya@acme.test', 'Maya', 'Member'),
  ('1a000000-0000-4000-8000-000000000004', 'victor@acme.test', 'Victor', 'Viewer'),
  ('1b000000-0000-4000-8000-000000000001', 'gina@globex.test', 'Gina', 'Owner'),
  ('1b000000-0000-4000-8000-000000000002', 'alan@globex.test', 'Alan', 'Admin'),
  ('1b000000-0000-4000-8000-000000000003', 'mona@globex.test', 'Mona', 'Member'),
  ('1b000000-0000-4000-8000-000000000004', 'vera@globex.test', 'Vera', 'Viewer'),
  ('1c000000-0000-4000-8000-000000000001', 'sam@shared.test', 'Sam', 'Shared');

-- The demo accounts are verified (the operator vouches for them): they sign in without a mailbox.
-- Guarded, so that this file also loads into a database migrated to before email verification.
do $$
begin
  if exists (select 1 from pg_catalog.pg_attribute
              where attrelid = 'iam.users'::regclass and attname = 'email_verified_at' and not attisdropped) then
    execute 'update iam.users set email_verified_at = now() where email_verified_at is null';
  end if;
end;
$$;

-- Through app_hidden.set_password, which knows where pgcrypto lives (public before migration 000010, extensions after).
select app_hidden.set_password(id, 'prospectflow-demo') from iam.users;

insert into iam.organisation_users (organisation_id, user_id, role) values
  ('0a000000-0000-4000-8000-000000000001', '1a000000-0000-4000-8000-000000000001', 'owner'),
  ('0a000000-0000-4000-8000-000000000001', '1a000000-0000-4000-8000-000000000002', 'admin'),
  ('0a000000-0000-4000-8000-000000000001', '1a000000-0000-4000-8000-000000000003', 'member'),
  ('0a000000-0000-4000-8000-000000000001', '1a000000-0000-4000-8000-000000000004', 'viewer'),
  ('0a000000-0000-4000-8000-000000000001', '1c000000-0000-4000-8000-000000000001', 'member'),
  ('0b000000-0000-4000-8000-000000000001', '1b000000-0000-4000-8000-000000000001', 'owner'),
  ('0b000000-0000-4000-8000-000000000001', '1b000000-0000-4000-8000-000000000002', 'admin'),
  ('0b000000-0000-4000-8000-000000000001', '1b000000-0000-4000-8000-000000000003', 'member'),
  ('0b000000-0000-4000-8000-000000000001', '1b000000-0000-4000-8000-000000000004', 'viewer'),
  ('0b000000-0000-4000-8000-000000000001', '1c000000-0000-4000-8000-000000000001', 'viewer');

-- Companies, people and positions: a few per organisation, with French registry data.
with orgs(organisation_id, prefix, domain) as (values
  ('0a000000-0000-4000-8000-000000000001'::uuid, 'Acme', 'acme-prospects.test'),
  ('0b000000-0000-4000-8000-000000000001'::uuid, 'Globex', 'globex-prospects.test')
)
insert into crm.companies (organisation_id, name, siren, naf_sector, industry, employee_range, website_url, growing)
select o.organisation_id,
       format('%s prospect company %s', o.prefix, n),
       lpad((100000000 + n * 7919)::text, 9, '0'),
       (array['62.01Z', '70.22Z', '46.90Z'])[1 + n % 3],
       (array['Software', 'Consulting', 'Wholesale'])[1 + n % 3],
       (array['1-10', '11-50', '51-200'])[1 + n % 3],
       format('https://company-%s.%s', n, o.domain),
       n % 2 = 0
  from orgs o, generate_series(1, 5) as n;

with orgs(organisation_id, prefix, domain) as (values
  ('0a000000-0000-4000-8000-000000000001'::uuid, 'acme', 'acme-prospects.test'),
  ('0b000000-0000-4000-8000-000000000001'::uuid, 'globex', 'globex-prospects.test')
)
insert into crm.people (organisation_id, first_name, last_name, email, status)
select o.organisation_id,
       (array['Camille', 'Louis', 'Chloé', 'Hugo', 'Léa', 'Jules'])[1 + n % 6],
       format('%s-Prospect-%s', initcap(o.prefix), n),
       format('person-%s@%s', n, o.domain),
       (array['new', 'queued', 'researched', 'contacted', 'replied'])[1 + n % 5]
  from orgs o, generate_series(1, 12) as n;

insert into crm.positions (organisation_id, person_id, company_id, job_title, email, email_status, email_reliability)
select p.organisation_id, p.id, c.id,
       (array['CEO', 'Head of Sales', 'CTO', 'Marketing Director'])[1 + (row_number() over (partition by p.organisation_id order by p.email))::int % 4],
       replace(p.email, 'person-', 'work-'),
       'valid',
       90
  from crm.people p
  -- Person n works at company 1 + (n - 1) % 5: fixed, so every company (every sector) has people
  -- and the README's examples answer the same on every machine.
  join crm.companies c
    on c.organisation_id = p.organisation_id
   and c.name like format('%% company %s', 1 + (split_part(split_part(p.email, '@', 1), '-', 2)::int - 1) % 5);

-- Outreach in acme: a running campaign with two steps and an A/B test on the first, every acme
-- position enrolled, eight emails sent, a few opens and one reply, so the dashboard has figures.
-- The functions below act in a tenant: as Olivia, acme's owner.
select set_config('app.organisation_id', '0a000000-0000-4000-8000-000000000001', true),
       set_config('app.user_id', '1a000000-0000-4000-8000-000000000001', true);

insert into outreach.prompts (organisation_id, name, purpose, model, is_active, prompt_text) values
  ('0a000000-0000-4000-8000-000000000001', 'intro-email', 'First email of a sequence', 'gpt-4o', false,
   'Write a short, friendly first email to {{first_name}} at {{company}}.'),
  ('0a000000-0000-4000-8000-000000000001', 'intro-email', 'First email of a sequence', 'gpt-4o', true,
   'Write a three-sentence first email to {{first_name}} at {{company}} about {{value_proposition}}.');

insert into outreach.campaigns (organisation_id, id, name, value_proposition, status) values
  ('0a000000-0000-4000-8000-000000000001', '2a000000-0000-4000-8000-000000000001', 'Q4 logistics outreach',
   'Cut last-mile delivery costs by 20%', 'active');
insert into outreach.workflow_steps (organisation_id, id, campaign_id, step_index, name, delay_days) values
  ('0a000000-0000-4000-8000-000000000001', '2a000000-0000-4000-8000-000000000002', '2a000000-0000-4000-8000-000000000001', 0, 'Intro email', 0),
  ('0a000000-0000-4000-8000-000000000001', '2a000000-0000-4000-8000-000000000003', '2a000000-0000-4000-8000-000000000001', 1, 'Follow-up', 3);
insert into outreach.step_experiments (organisation_id, id, workflow_step_id, name, status) values
  ('0a000000-0000-4000-8000-000000000001', '2a000000-0000-4000-8000-000000000004', '2a000000-0000-4000-8000-000000000002', 'Subject line', 'running');
insert into outreach.step_experiment_variants (organisation_id, step_experiment_id, key, weight, subject_template) values
  ('0a000000-0000-4000-8000-000000000001', '2a000000-0000-4000-8000-000000000004', 'A', 1, 'Quick question about {{company}}'),
  ('0a000000-0000-4000-8000-000000000001', '2a000000-0000-4000-8000-000000000004', 'B', 1, 'An idea for {{company}}''s deliveries');

insert into outreach.campaign_enrollments (organisation_id, campaign_id, position_id)
select organisation_id, '2a000000-0000-4000-8000-000000000001', id
  from crm.positions where organisation_id = '0a000000-0000-4000-8000-000000000001';

insert into outreach.messages (organisation_id, task_id, status, provider, subject, provider_thread_id, rfc822_message_id)
select t.organisation_id, t.id, 'sent', 'gmail', 'Hello from Acme', format('demo-thread-%s', n), format('<demo-%s@acme.test>', n)
  from outreach.claim_due_tasks(8, 'demo-worker') with ordinality as t(organisation_id, id, enrollment_id, workflow_step_id, task_type,
       scheduled_for, status, attempts, max_attempts, locked_at, locked_by, last_error, completed_at, created_at, updated_at, n);
select outreach.complete_task(t.id)
  from outreach.tasks t
 where t.organisation_id = '0a000000-0000-4000-8000-000000000001' and t.status = 'processing';

select app_hidden.record_open(p.token, '192.0.2.10', 'DemoMail/1.0')
  from tracking.pixels p
  join outreach.messages m on m.organisation_id = p.organisation_id and m.id = p.message_id
 where m.provider_thread_id in ('demo-thread-1', 'demo-thread-2', 'demo-thread-3', 'demo-thread-1');
insert into outreach.messages (organisation_id, direction, status, provider, provider_thread_id, in_reply_to, body_text) values
  ('0a000000-0000-4000-8000-000000000001', 'inbound', 'received', 'gmail', 'demo-thread-1', '<demo-1@acme.test>',
   'Sounds interesting, can we talk on Thursday?');
