--! Reverts: sha1:8e9d76ed6d5a131faa2503428106cb216641fd32

-- Reverts 000014 (nested search rows): loses no data (functions only).

-- Revert part of migrations/current/100-nested-search-rows.sql: loses no data (functions only).
drop function if exists app_hidden.people_matching_ctid_set(text);
drop function if exists app_hidden.companies_matching_ctid_set(text);
drop function if exists app_hidden.positions_matching_ctid_set(text);
