--! Previous: sha1:4c3b9ba6acbc658e64e4a4adc756813223ca0781
--! Hash: sha1:d149694e3df5e44abd637e631a17faa1bed12403
--! Message: Search by row address

--! split: 1-current.sql
-- Work in progress: one NNN-name.sql file per concern in migrations/current/ (see its README.md).
-- Keep every file idempotent (drop what you create first), then `npm run migrate -- commit -m "…"`.

--! split: 100-search-by-row-address.sql
-- Search by row address: the search functions return where the matching rows are stored (their
-- ctid, an array) instead of their ids, and the API's query reads exactly those rows with a TID
-- scan (`ctid = any((select app_hidden.people_matching_ctids(…))::tid[])`; tideq is leakproof,
-- so the TID condition may run before the policies, which still filter every row read).
-- Why: with ids, PostgreSQL joined the ids to every row of the other filters (the prospect list
-- of a large organisation: 25,000 rows of two statuses, a hash semi join) or looked each id up in
-- the primary key (7 µs apiece); re-reading the matched rows by address costs under 1 µs apiece.
-- The prospect list's count statement went from 25 ms to 10 ms of PostgreSQL (bench/results).
-- Safe: the functions (security definer, as before, because LIKE is not leakproof and the
-- trigram index could not serve it under the policies) see only the caller's organisation
-- (app_hidden.current_organisation_id() fails closed) and are stable, so they run in the calling
-- statement's snapshot: every address names a row version that statement sees. A forged address
-- could name only rows the policies then filter.
drop function if exists app_hidden.people_matching(text);
drop function if exists app_hidden.companies_matching(text);
drop function if exists app_hidden.positions_matching(text);

--! Included app_hidden/people_matching_ctids.sql
-- app_hidden/people_matching_ctids.sql: the current definition of app_hidden.people_matching_ctids. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/people_matching_ctids.sql).

create or replace function app_hidden.people_matching_ctids(query text)
  returns tid[]
  language sql
  stable security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select array(
    select p.ctid
      from crm.people p
     where p.organisation_id = (select app_hidden.current_organisation_id())
       and p.search_document like (select app_hidden.search_pattern(query)));
$function$;
comment on function app_hidden.people_matching_ctids(query text) is 'Where your organisation''s people whose names or email contain the query (any case, any accents) are stored (their ctid, in the calling statement''s snapshot); security definer so that the trigram index serves it (see migrations/committed/000013).';
revoke all on function app_hidden.people_matching_ctids(query text) from public;
grant execute on function app_hidden.people_matching_ctids(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/people_matching_ctids.sql
--! Included app_hidden/companies_matching_ctids.sql
-- app_hidden/companies_matching_ctids.sql: the current definition of app_hidden.companies_matching_ctids. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/companies_matching_ctids.sql).

create or replace function app_hidden.companies_matching_ctids(query text)
  returns tid[]
  language sql
  stable security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select array(
    select c.ctid
      from crm.companies c
     where c.organisation_id = (select app_hidden.current_organisation_id())
       and c.search_document like (select app_hidden.search_pattern(query)));
$function$;
comment on function app_hidden.companies_matching_ctids(query text) is 'Where your organisation''s companies whose name, brand, SIREN or SIRET contain the query are stored (their ctid); security definer for the trigram index, like people_matching_ctids.';
revoke all on function app_hidden.companies_matching_ctids(query text) from public;
grant execute on function app_hidden.companies_matching_ctids(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/companies_matching_ctids.sql
--! Included app_hidden/positions_matching_ctids.sql
-- app_hidden/positions_matching_ctids.sql: the current definition of app_hidden.positions_matching_ctids. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/positions_matching_ctids.sql).

create or replace function app_hidden.positions_matching_ctids(query text)
  returns tid[]
  language sql
  stable security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select array(
    select p.ctid
      from crm.positions p
     where p.organisation_id = (select app_hidden.current_organisation_id())
       and p.search_document like (select app_hidden.search_pattern(query))
    union
    select p.ctid
      from crm.companies c
      join crm.positions p on p.organisation_id = c.organisation_id and p.company_id = c.id
     where c.organisation_id = (select app_hidden.current_organisation_id())
       and c.search_document like (select app_hidden.search_pattern(query)));
$function$;
comment on function app_hidden.positions_matching_ctids(query text) is 'Where your organisation''s positions whose job title or work email, or whose company''s name or SIREN, contain the query are stored (their ctid); security definer for the trigram indexes, like people_matching_ctids.';
revoke all on function app_hidden.positions_matching_ctids(query text) from public;
grant execute on function app_hidden.positions_matching_ctids(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/positions_matching_ctids.sql
