--! Reverts: sha1:d149694e3df5e44abd637e631a17faa1bed12403

-- Reverts 000013 (search by row address): loses no data (functions only).

--------------------------------------------------------------------------------
-- Revert of migration 000013 (search by row address): loses no data. Drops the
-- three *_matching_ctids functions and gives back the id-returning ones as 000009 left them.
drop function if exists app_hidden.people_matching_ctids(text);
drop function if exists app_hidden.companies_matching_ctids(text);
drop function if exists app_hidden.positions_matching_ctids(text);

create or replace function app_hidden.people_matching(query text)
  returns setof uuid
  language sql
  stable security definer rows 200
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select p.id
    from crm.people p
   where p.organisation_id = (select app_hidden.current_organisation_id())
     and p.search_document like (select app_hidden.search_pattern(query));
$function$;
comment on function app_hidden.people_matching(query text) is 'Ids of your organisation''s people whose names or email contain the query (any case, any accents); security definer so that the trigram index serves it (see the comment above it in 510-dashboard-search.sql).';
revoke all on function app_hidden.people_matching(query text) from public;
grant execute on function app_hidden.people_matching(query text) to :DATABASE_VISITOR;

create or replace function app_hidden.companies_matching(query text)
  returns setof uuid
  language sql
  stable security definer rows 200
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select c.id
    from crm.companies c
   where c.organisation_id = (select app_hidden.current_organisation_id())
     and c.search_document like (select app_hidden.search_pattern(query));
$function$;
comment on function app_hidden.companies_matching(query text) is 'Ids of your organisation''s companies whose name, brand, SIREN or SIRET contain the query; security definer for the trigram index, like people_matching.';
revoke all on function app_hidden.companies_matching(query text) from public;
grant execute on function app_hidden.companies_matching(query text) to :DATABASE_VISITOR;

create or replace function app_hidden.positions_matching(query text)
  returns setof uuid
  language sql
  stable security definer rows 200
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select p.id from crm.positions p
   where p.organisation_id = (select app_hidden.current_organisation_id())
     and p.search_document like (select app_hidden.search_pattern(query))
  union
  select p.id from crm.companies c join crm.positions p on p.organisation_id = c.organisation_id and p.company_id = c.id
   where c.organisation_id = (select app_hidden.current_organisation_id())
     and c.search_document like (select app_hidden.search_pattern(query));
$function$;
comment on function app_hidden.positions_matching(query text) is 'Ids of your organisation''s positions whose job title or work email, or whose company''s name or SIREN, contain the query; security definer for the trigram indexes, like people_matching.';
revoke all on function app_hidden.positions_matching(query text) from public;
grant execute on function app_hidden.positions_matching(query text) to :DATABASE_VISITOR;
