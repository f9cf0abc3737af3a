-- plpgsql_check clean (issue 14): app_hidden.tg__audit initialised its text[] from an untyped '{}'
-- literal, which plpgsql_check reports as "target type is different type than source type"
-- (text to text[] through an I/O cast, at every call). Same function otherwise, typed literals.
-- Idempotent: create or replace, with its comment again.

create or replace function app_hidden.tg__audit() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  old_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  new_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  changed_row jsonb := coalesce(new_row, old_row);
  -- iam.organisations is its own organisation.
  organisation uuid := coalesce(changed_row->>'organisation_id', changed_row->>'id')::uuid;
  changed text[] := '{}'::text[];
begin
  -- Rows removed with their organisation are not audited: the log goes with them.
  if tg_op = 'DELETE' and not exists (select 1 from iam.organisations o where o.id = organisation) then
    return null;
  end if;
  if tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}'::text[]) into changed
      from jsonb_each(new_row) n where n.value is distinct from old_row -> n.key and n.key <> 'updated_at';
    if changed = '{}'::text[] then return null; end if;
  elsif tg_op = 'INSERT' then
    select coalesce(array_agg(n.key order by n.key), '{}'::text[]) into changed
      from jsonb_each(new_row) n where n.value <> 'null'::jsonb;
  end if;
  insert into iam.audit_log (organisation_id, user_id, table_name, row_id, action, changed_columns)
  values (
    organisation,
    nullif(current_setting('app.user_id', true), '')::uuid,
    tg_table_schema || '.' || tg_table_name,
    case when tg_nargs = 0 then changed_row->>'id'
         else array_to_string(array(select changed_row->>key_column from unnest(tg_argv) key_column), ',') end,
    lower(tg_op),
    changed
  );
  return null;
end;
$$;
comment on function app_hidden.tg__audit() is
  'Trigger: records an insert, update or delete in iam.audit_log (trigger arguments name the key columns of tables '
  'without an id). Security definer because nobody may write the audit log directly.';
