-- Loses: which accounts each organisation deletion deleted and which it kept (app_private.organisation_deletions.accounts_deleted, accounts_kept); the deletion records themselves stay.
-- Revert part of migrations/current/450-organisation-deletion.sql (see README, "Migrations: rolling
-- one back"): drops the two columns it added to the deletion record and re-creates
-- delete_organisation_data as 000004 defined it (same signature: create or replace keeps its
-- grants), with 000004's comment. Deletions after the revert follow 000004's rule again: every
-- member who belongs nowhere else goes with the organisation, whoever created the account.
alter table app_private.organisation_deletions drop column accounts_deleted, drop column accounts_kept;

create or replace function app_hidden.delete_organisation_data(organisation uuid, actor uuid) returns jsonb
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  tenant_table record;
  removed bigint;
  rows_removed jsonb := '{}';
  orphans uuid[];
  deletion app_private.organisation_deletions;
begin
  if not exists (select 1 from iam.organisations o where o.id = organisation) then
    raise exception 'Not found: no organisation with this id' using errcode = 'PT011';
  end if;
  for tenant_table in
    select format('%I.%I', n.nspname, c.relname) as name
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'organisation_id' and not a.attisdropped
     where n.nspname in ('iam', 'crm', 'outreach', 'tracking', 'app_private') and c.relkind in ('r', 'p')
     order by 1
  loop
    execute format('select count(*) from %s where organisation_id = $1', tenant_table.name) into removed using organisation;
    if removed > 0 then rows_removed := rows_removed || jsonb_build_object(tenant_table.name, removed); end if;
  end loop;
  select coalesce(array_agg(m.user_id), '{}') into orphans
    from iam.organisation_users m
   where m.organisation_id = organisation
     and not exists (select 1 from iam.organisation_users other where other.user_id = m.user_id and other.organisation_id <> organisation);
  rows_removed := rows_removed || jsonb_build_object('iam.organisations', 1, 'iam.users', cardinality(orphans));
  delete from iam.organisations o where o.id = organisation;
  delete from iam.users u where u.id = any(orphans);
  insert into app_private.organisation_deletions (organisation_id, deleted_by_user_id, rows_removed)
  values (organisation, actor, rows_removed)
  returning * into deletion;
  return jsonb_build_object('organisationId', organisation, 'deletedAt', deletion.deleted_at, 'rowsRemoved', rows_removed);
end;
$$;
comment on function app_hidden.delete_organisation_data(uuid, uuid) is
  'Deletes an organisation with all its rows (foreign keys cascade from iam.organisations) and its users who belong '
  'nowhere else, and records the deletion. Used by deleteCurrentOrganisation and the operator CLI.';
