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

insert into app_private.user_secrets (user_id, password_hash)
select id, public.crypt('prospectflow-demo', public.gen_salt('bf', 10)) from iam.users;

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
  join lateral (
    select c.id from crm.companies c
     where c.organisation_id = p.organisation_id
     order by md5(c.id::text || p.id::text)
     limit 1
  ) c on true;
