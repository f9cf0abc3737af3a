-- Membership by consent (issue 11), part 6: deleting an organisation deletes only what it owns.
-- Accounts go with it only when they were created for it and never joined another organisation;
-- every other member just loses the membership. The deletion record says which accounts went and
-- which stayed (by id: no personal data).
-- Idempotent: the record's new columns are added once (they hold history); the function is replaced.

alter table app_private.organisation_deletions
  add column if not exists accounts_deleted uuid[] not null default '{}',
  add column if not exists accounts_kept uuid[] not null default '{}';
comment on column app_private.organisation_deletions.accounts_deleted is
  'Accounts deleted with the organisation: created for it, never a member anywhere else.';
comment on column app_private.organisation_deletions.accounts_kept is
  'Members whose accounts stayed (they came from, or also joined, another organisation); only the membership went.';

create or replace function app_hidden.delete_organisation_data(organisation uuid, actor uuid) returns jsonb
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  tenant_table record;
  removed bigint;
  rows_removed jsonb := '{}'::jsonb;
  owned_accounts uuid[];
  other_accounts uuid[];
  recorded_at timestamptz;
begin
  if not exists (select 1 from iam.organisations o where o.id = organisation) then
    raise exception 'Not found: no organisation with this id' using errcode = 'PT011';
  end if;
  for tenant_table in
    select format('%I.%I', n.nspname, c.relname)::text as name
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'organisation_id' and not a.attisdropped
     where n.nspname in ('iam', 'crm', 'outreach', 'tracking', 'app_private') and c.relkind in ('r', 'p')
     order by 1
  loop
    execute format('select count(*) from %s where organisation_id = $1', tenant_table.name) into removed using organisation;
    if removed > 0 then rows_removed := rows_removed || jsonb_build_object(tenant_table.name, removed); end if;
  end loop;
  select coalesce(array_agg(m.user_id order by m.user_id) filter (where m.owned), '{}'::uuid[]),
         coalesce(array_agg(m.user_id order by m.user_id) filter (where not m.owned), '{}'::uuid[])
    into owned_accounts, other_accounts
    from (
      select member.user_id,
             exists (
               select 1 from app_private.account_origins o
                where o.user_id = member.user_id and o.created_for_organisation_id = organisation
                  and o.joined_another_at is null
             ) and not exists (
               select 1 from iam.organisation_users other
                where other.user_id = member.user_id and other.organisation_id <> organisation
             ) as owned
        from iam.organisation_users member
       where member.organisation_id = organisation
    ) m;
  rows_removed := rows_removed || jsonb_build_object('iam.organisations', 1, 'iam.users', cardinality(owned_accounts));
  delete from iam.organisations o where o.id = organisation;
  delete from iam.users u where u.id = any(owned_accounts);
  insert into app_private.organisation_deletions
    (organisation_id, deleted_by_user_id, rows_removed, accounts_deleted, accounts_kept)
  values (organisation, actor, rows_removed, owned_accounts, other_accounts)
  returning deleted_at into recorded_at;
  return jsonb_build_object(
    'organisationId', organisation, 'deletedAt', recorded_at, 'rowsRemoved', rows_removed,
    'accountsDeleted', cardinality(owned_accounts), 'accountsKept', cardinality(other_accounts));
end;
$$;
comment on function app_hidden.delete_organisation_data(uuid, uuid) is
  'Deletes an organisation with all its rows (foreign keys cascade from iam.organisations) and the accounts created '
  'for it that never joined another organisation (other members keep their accounts), and records which. Used by '
  'deleteCurrentOrganisation and the operator CLI.';
