-- Loses no data: only the generated search documents of people, companies and positions (computed from their columns).
-- Revert part of migrations/current/510-dashboard-search.sql (see README, "Migrations: rolling one
-- back"): drops the matching functions, the three generated search_document columns (and with them
-- their trigram indexes), the search-document functions, then the extensions it installed
-- (btree_gin, unaccent, pg_trgm) and the extensions schema. No cascade: if anything else has come
-- to use them since, the revert stops instead of dropping it. (If pg_trgm or unaccent had been
-- installed before the migration, in another schema, the forward one kept it there; this drops it.)
drop function app_hidden.people_matching(text);
drop function app_hidden.companies_matching(text);
drop function app_hidden.positions_matching(text);

alter table crm.people drop column search_document;
alter table crm.companies drop column search_document;
alter table crm.positions drop column search_document;

drop function app_hidden.people_search_document(text, text, text);
drop function app_hidden.companies_search_document(text, text, text, text);
drop function app_hidden.positions_search_document(text, text);
drop function app_hidden.search_pattern(text);
drop function app_hidden.search_text(text);

drop extension btree_gin;
drop extension unaccent;
drop extension pg_trgm;
drop schema extensions;
