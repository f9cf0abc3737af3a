--! Previous: sha1:d149694e3df5e44abd637e631a17faa1bed12403
--! Hash: sha1:8e9d76ed6d5a131faa2503428106cb216641fd32
--! Message: Nested search rows

--! split: 1-current.sql
-- Work in progress: one NNN-name.sql file per concern in migrations/current/ (see its README.md).
-- Keep every file idempotent (drop what you create first), then `npm run migrate -- commit -m "…"`.

--! split: 100-nested-search-rows.sql
-- Searches under another row (`company { positions(search:) }`) read the matches as rows of a
-- function scan (app_hidden.*_matching_ctid_set, `rows 1000`), which PostgreSQL hashes against
-- each parent's rows once per parent, with the matches kept in work_mem, as the id functions
-- before 000013 were. Root fields keep `ctid = any(array)` (a TID scan). Measured and why in
-- src/graphql/search-plugin.ts.
--! Included app_hidden/people_matching_ctid_set.sql
-- app_hidden/people_matching_ctid_set.sql: the current definition of app_hidden.people_matching_ctid_set. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/people_matching_ctid_set.sql).

create or replace function app_hidden.people_matching_ctid_set(query text)
  returns setof tid
  language sql
  stable rows 1000
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select pg_catalog.unnest(app_hidden.people_matching_ctids(query));
$function$;
comment on function app_hidden.people_matching_ctid_set(query text) is 'app_hidden.people_matching_ctids as rows, for searches under another row (src/graphql/search-plugin.ts): a function scan whose rows PostgreSQL keeps (within work_mem) and hashes against each parent''s few rows; its settings keep it from being inlined, so the search never runs while planning. For reads only (an UPDATE would miss rows moved meanwhile).';
revoke all on function app_hidden.people_matching_ctid_set(query text) from public;
grant execute on function app_hidden.people_matching_ctid_set(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/people_matching_ctid_set.sql
--! Included app_hidden/companies_matching_ctid_set.sql
-- app_hidden/companies_matching_ctid_set.sql: the current definition of app_hidden.companies_matching_ctid_set. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/companies_matching_ctid_set.sql).

create or replace function app_hidden.companies_matching_ctid_set(query text)
  returns setof tid
  language sql
  stable rows 1000
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select pg_catalog.unnest(app_hidden.companies_matching_ctids(query));
$function$;
comment on function app_hidden.companies_matching_ctid_set(query text) is 'app_hidden.companies_matching_ctids as rows, for searches under another row (src/graphql/search-plugin.ts): a function scan whose rows PostgreSQL keeps (within work_mem) and hashes against each parent''s few rows; its settings keep it from being inlined, so the search never runs while planning. For reads only (an UPDATE would miss rows moved meanwhile).';
revoke all on function app_hidden.companies_matching_ctid_set(query text) from public;
grant execute on function app_hidden.companies_matching_ctid_set(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/companies_matching_ctid_set.sql
--! Included app_hidden/positions_matching_ctid_set.sql
-- app_hidden/positions_matching_ctid_set.sql: the current definition of app_hidden.positions_matching_ctid_set. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/positions_matching_ctid_set.sql).

create or replace function app_hidden.positions_matching_ctid_set(query text)
  returns setof tid
  language sql
  stable rows 1000
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select pg_catalog.unnest(app_hidden.positions_matching_ctids(query));
$function$;
comment on function app_hidden.positions_matching_ctid_set(query text) is 'app_hidden.positions_matching_ctids as rows, for searches under another row (src/graphql/search-plugin.ts): a function scan whose rows PostgreSQL keeps (within work_mem) and hashes against each parent''s few rows; its settings keep it from being inlined, so the search never runs while planning. For reads only (an UPDATE would miss rows moved meanwhile).';
revoke all on function app_hidden.positions_matching_ctid_set(query text) from public;
grant execute on function app_hidden.positions_matching_ctid_set(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/positions_matching_ctid_set.sql
