--! Previous: sha1:ad31c23b5d164cd524114b794998c58dfbf04547
--! Hash: sha1:5f67a8385fe34dc18e4aa7de1cd2862a1d112a03
--! Message: crm

-- crm: the companies and people an organisation prospects, and the positions that link them.
-- Idempotent: it drops what it creates, so `graphile-migrate watch` can run it again and again.

drop schema if exists crm cascade;


create schema crm;
comment on schema crm is 'Contacts: the companies and people an organisation prospects, and their positions.';
grant usage on schema crm to :DATABASE_VISITOR;

create table crm.companies (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint companies_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null constraint companies_name_length check (length(name) between 1 and 200),
  brand_name text constraint companies_brand_name_length check (length(brand_name) <= 200),
  linkedin_name text constraint companies_linkedin_name_length check (length(linkedin_name) <= 200),
  pharow_company_id text constraint companies_pharow_company_id_length check (length(pharow_company_id) <= 100),
  siren text constraint companies_siren_format check (siren ~ '^[0-9]{9}$'),
  hq_siret text constraint companies_hq_siret_format check (hq_siret ~ '^[0-9]{14}$'),
  naf_sector text constraint companies_naf_sector_length check (length(naf_sector) <= 100),
  industry text constraint companies_industry_length check (length(industry) <= 100),
  activity text,
  founding_year smallint constraint companies_founding_year_range check (founding_year between 1000 and 2100),
  founding_date date,
  growing boolean,
  employee_range text constraint companies_employee_range_length check (length(employee_range) <= 50),
  annual_revenue_eur bigint constraint companies_annual_revenue_positive check (annual_revenue_eur >= 0),
  main_phone text constraint companies_main_phone_length check (length(main_phone) <= 50),
  generic_email public.citext constraint companies_generic_email_format check (generic_email ~ '^[^@\s]+@[^@\s]+$'),
  website_url text constraint companies_website_url_length check (length(website_url) <= 500),
  linkedin_url text constraint companies_linkedin_url_length check (length(linkedin_url) <= 500),
  hq_address text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id)
);
create index idx_companies_org on crm.companies (organisation_id, name);
alter table crm.companies enable row level security;
create policy select_own on crm.companies for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on crm.companies for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on crm.companies for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on crm.companies for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on crm.companies to :DATABASE_VISITOR;
grant insert (name, brand_name, linkedin_name, pharow_company_id, siren, hq_siret, naf_sector, industry, activity,
              founding_year, founding_date, growing, employee_range, annual_revenue_eur, main_phone, generic_email,
              website_url, linkedin_url, hq_address),
      update (name, brand_name, linkedin_name, pharow_company_id, siren, hq_siret, naf_sector, industry, activity,
              founding_year, founding_date, growing, employee_range, annual_revenue_eur, main_phone, generic_email,
              website_url, linkedin_url, hq_address)
   on crm.companies to :DATABASE_VISITOR;
comment on table crm.companies is
  'A business that an organisation prospects, with French registry data (SIREN, NAF) and enrichment from Pharow.';
comment on column crm.companies.siren is 'French company registry number (9 digits).';
comment on column crm.companies.hq_siret is 'French establishment number of the headquarters (14 digits).';
comment on column crm.companies.naf_sector is 'French NAF activity code or sector label.';
create trigger _100_set_updated_at before update on crm.companies
  for each row execute function app_hidden.tg__set_updated_at();

create table crm.people (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint people_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  first_name text constraint people_first_name_length check (length(first_name) <= 100),
  last_name text constraint people_last_name_length check (length(last_name) <= 100),
  salutation text constraint people_salutation_length check (length(salutation) <= 20),
  email public.citext constraint people_email_format check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 255),
  status text not null default 'new'
    constraint people_status_valid check (status in ('new', 'queued', 'researched', 'contacted', 'replied', 'converted', 'unsubscribed', 'bounced')),
  linkedin_url text constraint people_linkedin_url_length check (length(linkedin_url) <= 500),
  mobile_phone text constraint people_mobile_phone_length check (length(mobile_phone) <= 50),
  phone_kaspr_1 text constraint people_phone_kaspr_1_length check (length(phone_kaspr_1) <= 50),
  phone_kaspr_3 text constraint people_phone_kaspr_3_length check (length(phone_kaspr_3) <= 50),
  phone_bettercontact text constraint people_phone_bettercontact_length check (length(phone_bettercontact) <= 50),
  phone_fullenrich_1 text constraint people_phone_fullenrich_1_length check (length(phone_fullenrich_1) <= 50),
  phone_fullenrich_3 text constraint people_phone_fullenrich_3_length check (length(phone_fullenrich_3) <= 50),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id)
);
create unique index idx_people_org_email on crm.people (organisation_id, email);
create index idx_people_status on crm.people (organisation_id, status);
alter table crm.people enable row level security;
create policy select_own on crm.people for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on crm.people for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on crm.people for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on crm.people for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on crm.people to :DATABASE_VISITOR;
grant insert (first_name, last_name, salutation, email, status, linkedin_url, mobile_phone, phone_kaspr_1,
              phone_kaspr_3, phone_bettercontact, phone_fullenrich_1, phone_fullenrich_3),
      update (first_name, last_name, salutation, email, status, linkedin_url, mobile_phone, phone_kaspr_1,
              phone_kaspr_3, phone_bettercontact, phone_fullenrich_1, phone_fullenrich_3)
   on crm.people to :DATABASE_VISITOR;
comment on table crm.people is
  'A prospect: an individual contact, with phone numbers from several enrichment providers.';
comment on column crm.people.email is 'Personal email, unique within the organisation; work emails live on positions.';
comment on column crm.people.status is
  'Where the prospect stands: new, queued, researched, contacted, replied, converted, unsubscribed or bounced.';
create trigger _100_set_updated_at before update on crm.people
  for each row execute function app_hidden.tg__set_updated_at();

create table crm.positions (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint positions_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  person_id uuid not null,
  company_id uuid not null,
  job_title text constraint positions_job_title_length check (length(job_title) <= 200),
  pharow_list_name text constraint positions_pharow_list_name_length check (length(pharow_list_name) <= 200),
  email public.citext constraint positions_email_format check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 255),
  email_status text not null default 'unknown'
    constraint positions_email_status_valid check (email_status in ('unknown', 'valid', 'risky', 'catch_all', 'invalid')),
  email_reliability numeric(5, 2)
    constraint positions_email_reliability_range check (email_reliability between 0 and 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint positions_person_fk foreign key (organisation_id, person_id)
    references crm.people (organisation_id, id) on delete cascade,
  constraint positions_company_fk foreign key (organisation_id, company_id)
    references crm.companies (organisation_id, id) on delete cascade
);
create index idx_positions_person on crm.positions (organisation_id, person_id);
create index idx_positions_company on crm.positions (organisation_id, company_id);
create index idx_positions_org_email on crm.positions (organisation_id, email);
alter table crm.positions enable row level security;
create policy select_own on crm.positions for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on crm.positions for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on crm.positions for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on crm.positions for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on crm.positions to :DATABASE_VISITOR;
grant insert (person_id, company_id, job_title, pharow_list_name, email, email_status, email_reliability),
      update (person_id, company_id, job_title, pharow_list_name, email, email_status, email_reliability)
   on crm.positions to :DATABASE_VISITOR;
comment on table crm.positions is
  'A person''s job at a company, with the work email used for outreach; a person can hold several.';
comment on column crm.positions.email_status is 'Deliverability of the email: unknown, valid, risky, catch_all or invalid.';
comment on column crm.positions.email_reliability is 'Enrichment provider''s confidence in the email, 0 to 100.';
create trigger _100_set_updated_at before update on crm.positions
  for each row execute function app_hidden.tg__set_updated_at();
