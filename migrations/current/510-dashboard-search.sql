-- 510 dashboard search: case- and accent-insensitive search of people, companies and positions
-- (names, emails, company names, SIREN, job titles) with pg_trgm + unaccent.
-- The extensions live in the `extensions` schema, not `public`. Each searchable table has one
-- immutable "search document" function (the same expression in the index and in the query the
-- API generates) and a GIN index on (organisation_id, document): btree_gin lets the index lead
-- with organisation_id, so a search reads only the trigram entries of one organisation.
-- Idempotent: drops its functions (and with them the indexes) first; extensions are kept.

create schema if not exists extensions;
comment on schema extensions is 'PostgreSQL extensions (pg_trgm, unaccent, btree_gin), kept out of the public schema.';
grant usage on schema extensions to :DATABASE_VISITOR;
create extension if not exists pg_trgm with schema extensions;
create extension if not exists unaccent with schema extensions;
create extension if not exists btree_gin with schema extensions;

-- The generated columns first (they depend on the functions), with their indexes.
alter table crm.people drop column if exists search_document;
alter table crm.companies drop column if exists search_document;
alter table crm.positions drop column if exists search_document;
drop function if exists app_hidden.people_matching(text);
drop function if exists app_hidden.companies_matching(text);
drop function if exists app_hidden.positions_matching(text);
drop function if exists app_hidden.search_text(text) cascade;
drop function if exists app_hidden.search_pattern(text) cascade;
drop function if exists app_hidden.people_search_document(text, text, text) cascade;
drop function if exists app_hidden.companies_search_document(text, text, text, text) cascade;
drop function if exists app_hidden.positions_search_document(text, text) cascade;

create function app_hidden.search_text(value text) returns text
  language sql immutable parallel safe strict
as $$
  select lower(extensions.unaccent('extensions.unaccent'::regdictionary, value));
$$;
comment on function app_hidden.search_text(text) is
  'Lower-case, accent-free text for search ("Léa" → "lea"). Immutable (unaccent itself is only stable, because its '
  'dictionary could change): the project never changes the dictionary, so index expressions may use it.';

create function app_hidden.search_pattern(query text) returns text
  language sql immutable parallel safe strict
as $$
  select '%' || replace(replace(replace(app_hidden.search_text(btrim(query)), '\', '\\'), '%', '\%'), '_', '\_') || '%';
$$;
comment on function app_hidden.search_pattern(text) is
  'The LIKE pattern that finds a search query anywhere in a search document; %, _ and \ in the query match themselves.';

create function app_hidden.people_search_document(first_name text, last_name text, email text) returns text
  language sql immutable parallel safe
as $$
  select app_hidden.search_text(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, ''));
$$;
comment on function app_hidden.people_search_document(text, text, text) is
  'What `people(search:)` matches: first name, last name and email, lower-case and without accents.';

create function app_hidden.companies_search_document(name text, brand_name text, siren text, hq_siret text) returns text
  language sql immutable parallel safe
as $$
  select app_hidden.search_text(coalesce(name, '') || ' ' || coalesce(brand_name, '') || ' ' || coalesce(siren, '')
                                || ' ' || coalesce(hq_siret, ''));
$$;
comment on function app_hidden.companies_search_document(text, text, text, text) is
  'What `companies(search:)` matches: name, brand name, SIREN and headquarters SIRET, lower-case and without accents.';

create function app_hidden.positions_search_document(job_title text, email text) returns text
  language sql immutable parallel safe
as $$
  select app_hidden.search_text(coalesce(job_title, '') || ' ' || coalesce(email, ''));
$$;
comment on function app_hidden.positions_search_document(text, text) is
  'What `positions(search:)` matches on the position itself: job title and work email (the company''s name and SIREN '
  'are matched through companies_search_document).';

grant execute on function app_hidden.search_text(text), app_hidden.search_pattern(text),
  app_hidden.people_search_document(text, text, text), app_hidden.companies_search_document(text, text, text, text),
  app_hidden.positions_search_document(text, text)
  to :DATABASE_VISITOR;

-- The documents are stored generated columns: a search reads them instead of computing unaccent
-- row by row (unaccent is a non-inlinable function call, ~25 µs a row; 100,000 rows is 2.5 s).
-- They are hidden from GraphQL (`@behavior -*`); exports skip nothing, imports recompute them.
alter table crm.people add column search_document text
  generated always as (app_hidden.people_search_document(first_name, last_name, email::text)) stored;
alter table crm.companies add column search_document text
  generated always as (app_hidden.companies_search_document(name, brand_name, siren, hq_siret)) stored;
alter table crm.positions add column search_document text
  generated always as (app_hidden.positions_search_document(job_title, email::text)) stored;
comment on column crm.people.search_document is
  E'@behavior -*\nWhat people(search:) matches: names and email, lower-case, without accents (generated).';
comment on column crm.companies.search_document is
  E'@behavior -*\nWhat companies(search:) matches: name, brand, SIREN, SIRET, lower-case, without accents (generated).';
comment on column crm.positions.search_document is
  E'@behavior -*\nWhat positions(search:) matches: job title and work email, lower-case, without accents (generated).';

create index idx_people_search on crm.people using gin (organisation_id, search_document extensions.gin_trgm_ops);
create index idx_companies_search on crm.companies using gin (organisation_id, search_document extensions.gin_trgm_ops);
create index idx_positions_search on crm.positions using gin (organisation_id, search_document extensions.gin_trgm_ops);
comment on index crm.idx_people_search is 'people(search:): trigrams of names and email, per organisation.';
comment on index crm.idx_companies_search is 'companies(search:) and positions(search:): trigrams of name, brand, SIREN, SIRET.';
comment on index crm.idx_positions_search is 'positions(search:): trigrams of job title and work email, per organisation.';

-- What search runs: the ids of the caller's organisation's rows whose document contains the query
-- (`rows 200`: the planner then looks the matches up by primary key rather than scanning another index;
-- the tenant and the pattern are `(select …)` so that they are computed once, not once per row).
-- Security definer because LIKE (textlike) is not leakproof: under RLS PostgreSQL may not use a
-- non-leakproof condition as an index condition, so a search through the policies would read
-- every row of the organisation (100,000 on the bench's large ones) instead of the trigram index.
-- Owned by the owner, these functions bypass RLS; they filter on app_hidden.current_organisation_id()
-- themselves (which fails closed exactly as the policies do) and return ids only, which the
-- API's query then reads through RLS as usual.
create function app_hidden.people_matching(query text) returns setof uuid
  language sql stable security definer rows 200
  set search_path = pg_catalog, pg_temp
as $$
  select p.id
    from crm.people p
   where p.organisation_id = (select app_hidden.current_organisation_id())
     and p.search_document like (select app_hidden.search_pattern(query));
$$;
comment on function app_hidden.people_matching(text) is
  'Ids of your organisation''s people whose names or email contain the query (any case, any accents); '
  'security definer so that the trigram index serves it (see the comment above it in 510-dashboard-search.sql).';

create function app_hidden.companies_matching(query text) returns setof uuid
  language sql stable security definer rows 200
  set search_path = pg_catalog, pg_temp
as $$
  select c.id
    from crm.companies c
   where c.organisation_id = (select app_hidden.current_organisation_id())
     and c.search_document like (select app_hidden.search_pattern(query));
$$;
comment on function app_hidden.companies_matching(text) is
  'Ids of your organisation''s companies whose name, brand, SIREN or SIRET contain the query; security definer '
  'for the trigram index, like people_matching.';

create function app_hidden.positions_matching(query text) returns setof uuid
  language sql stable security definer rows 200
  set search_path = pg_catalog, pg_temp
as $$
  select p.id from crm.positions p
   where p.organisation_id = (select app_hidden.current_organisation_id())
     and p.search_document like (select app_hidden.search_pattern(query))
  union
  select p.id from crm.companies c join crm.positions p on p.organisation_id = c.organisation_id and p.company_id = c.id
   where c.organisation_id = (select app_hidden.current_organisation_id())
     and c.search_document like (select app_hidden.search_pattern(query));
$$;
comment on function app_hidden.positions_matching(text) is
  'Ids of your organisation''s positions whose job title or work email, or whose company''s name or SIREN, contain '
  'the query; security definer for the trigram indexes, like people_matching.';

grant execute on function app_hidden.people_matching(text), app_hidden.companies_matching(text),
  app_hidden.positions_matching(text)
  to :DATABASE_VISITOR;
