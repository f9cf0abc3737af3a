// A snapshot of everything a migration can create, read from the catalog (never from a dump's
// text): one sorted list of lines per kind of object, named by schema-qualified names (never by
// oid), so two snapshots of the same schema are equal and a difference reads as a diff.
// graphile-migrate's own schema and objects that belong to an extension are left out.
import type pg from "pg";

export type CatalogSnapshot = Record<string, string[]>;

const USER_NAMESPACES = `
  select oid from pg_namespace
   where nspname not in ('pg_catalog', 'information_schema', 'graphile_migrate')
     and nspname !~ '^pg_(toast|temp_|toast_temp_)'`;

/** Objects created by `create extension` (their member objects are the extension's, compared by version). */
const NOT_EXTENSION_MEMBER = (classTable: string, oidColumn: string) => `not exists (
    select 1 from pg_depend d
     where d.classid = '${classTable}'::regclass and d.objid = ${oidColumn} and d.deptype = 'e')`;

const QUERIES: Record<string, string> = {
  database: `
    select format('acl=%s comment=%s', datacl::text, shobj_description(oid, 'pg_database'))
      from pg_database where datname = current_database()`,
  extensions: `
    select format('%s %s in %s comment=%s', e.extname, e.extversion, n.nspname, obj_description(e.oid, 'pg_extension'))
      from pg_extension e join pg_namespace n on n.oid = e.extnamespace`,
  schemas: `
    select format('%s owner=%s acl=%s comment=%s', n.nspname, pg_get_userbyid(n.nspowner), n.nspacl::text,
                  obj_description(n.oid, 'pg_namespace'))
      from pg_namespace n where n.oid in (${USER_NAMESPACES})`,
  relations: `
    select format('%s.%s kind=%s owner=%s acl=%s rls=%s force_rls=%s options=%s persistence=%s replica_identity=%s '
                  'partition_key=%s partition_of=%s comment=%s',
                  n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text,
                  c.relrowsecurity, c.relforcerowsecurity, c.reloptions::text, c.relpersistence, c.relreplident,
                  case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end,
                  case when c.relispartition then pg_get_expr(c.relpartbound, c.oid) end,
                  obj_description(c.oid, 'pg_class'))
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.oid in (${USER_NAMESPACES}) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'c')
       and ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}`,
  columns: `
    select format('%s.%s #%s %s %s not_null=%s default=%s identity=%s generated=%s collation=%s acl=%s comment=%s',
                  n.nspname, c.relname, row_number() over (partition by c.oid order by a.attnum), a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                  a.attidentity, a.attgenerated, co.collname, a.attacl::text, col_description(c.oid, a.attnum))
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
      left join pg_collation co on co.oid = a.attcollation and a.attcollation <> 100
     where n.oid in (${USER_NAMESPACES}) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
       and a.attnum > 0 and not a.attisdropped and ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}`,
  constraints: `
    select format('%s.%s %s %s: %s deferrable=%s deferred=%s validated=%s comment=%s',
                  n.nspname, coalesce(c.relname, t.typname), k.conname, k.contype, pg_get_constraintdef(k.oid),
                  k.condeferrable, k.condeferred, k.convalidated, obj_description(k.oid, 'pg_constraint'))
      from pg_constraint k
      join pg_namespace n on n.oid = k.connamespace
      left join pg_class c on c.oid = k.conrelid
      left join pg_type t on t.oid = k.contypid
     where n.oid in (${USER_NAMESPACES}) and ${NOT_EXTENSION_MEMBER("pg_constraint", "k.oid")}
       and (c.oid is null or ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")})`,
  indexes: `
    select format('%s comment=%s', pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class'))
      from pg_index i join pg_class c on c.oid = i.indexrelid
     where c.relnamespace in (${USER_NAMESPACES}) and ${NOT_EXTENSION_MEMBER("pg_class", "i.indrelid")}`,
  policies: `
    select format('%s.%s %s %s permissive=%s roles=%s using=(%s) check=(%s) comment=%s',
                  n.nspname, c.relname, p.polname, p.polcmd, p.polpermissive,
                  array(select case when r = 0 then 'public' else pg_get_userbyid(r) end
                          from unnest(p.polroles) r order by 1)::text,
                  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid),
                  obj_description(p.oid, 'pg_policy'))
      from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace`,
  triggers: `
    select format('%s enabled=%s comment=%s', pg_get_triggerdef(t.oid), t.tgenabled, obj_description(t.oid, 'pg_trigger'))
      from pg_trigger t join pg_class c on c.oid = t.tgrelid
     where not t.tgisinternal and c.relnamespace in (${USER_NAMESPACES})`,
  functions: `
    select format('%s owner=%s acl=%s comment=%s%s%s', p.oid::regprocedure, pg_get_userbyid(p.proowner),
                  p.proacl::text, obj_description(p.oid, 'pg_proc'), E'\\n',
                  case when p.prokind = 'a' then 'aggregate' else pg_get_functiondef(p.oid) end)
      from pg_proc p
     where p.pronamespace in (${USER_NAMESPACES}) and ${NOT_EXTENSION_MEMBER("pg_proc", "p.oid")}`,
  types: `
    select format('%s kind=%s owner=%s acl=%s base=%s not_null=%s default=%s labels=%s comment=%s',
                  t.oid::regtype, t.typtype, pg_get_userbyid(t.typowner), t.typacl::text,
                  case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end, t.typnotnull,
                  t.typdefault,
                  array(select e.enumlabel from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder)::text,
                  obj_description(t.oid, 'pg_type'))
      from pg_type t
     where t.typnamespace in (${USER_NAMESPACES}) and t.typtype in ('e', 'd', 'c', 'r', 'm')
       and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')
       and ${NOT_EXTENSION_MEMBER("pg_type", "t.oid")}`,
  sequences: `
    select format('%s %s start=%s inc=%s min=%s max=%s cache=%s cycle=%s', s.seqrelid::regclass,
                  format_type(s.seqtypid, null), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
      from pg_sequence s join pg_class c on c.oid = s.seqrelid
     where c.relnamespace in (${USER_NAMESPACES}) and ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}`,
  default_privileges: `
    select format('role=%s schema=%s %s acl=%s', pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype,
                  d.defaclacl::text)
      from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace`,
  views: `
    select format('%s.%s: %s', n.nspname, c.relname, pg_get_viewdef(c.oid))
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.oid in (${USER_NAMESPACES}) and c.relkind in ('v', 'm')`,
  rules: `
    select pg_get_ruledef(r.oid) from pg_rewrite r join pg_class c on c.oid = r.ev_class
     where c.relnamespace in (${USER_NAMESPACES}) and r.rulename <> '_RETURN'`,
  inheritance: `
    select format('%s inherits %s #%s', i.inhrelid::regclass, i.inhparent::regclass, i.inhseqno)
      from pg_inherits i join pg_class c on c.oid = i.inhrelid where c.relnamespace in (${USER_NAMESPACES})`,
  statistics: `
    select pg_get_statisticsobjdef(s.oid) from pg_statistic_ext s where s.stxnamespace in (${USER_NAMESPACES})`,
  operators: `
    select format('%s owner=%s', o.oid::regoperator, pg_get_userbyid(o.oprowner)) from pg_operator o
     where o.oprnamespace in (${USER_NAMESPACES}) and ${NOT_EXTENSION_MEMBER("pg_operator", "o.oid")}`,
  collations: `
    select format('%s provider=%s', c.oid::regcollation, c.collprovider) from pg_collation c
     where c.collnamespace in (${USER_NAMESPACES}) and ${NOT_EXTENSION_MEMBER("pg_collation", "c.oid")}`,
  casts: `
    select format('%s -> %s via %s context=%s method=%s', c.castsource::regtype, c.casttarget::regtype,
                  c.castfunc::regprocedure, c.castcontext, c.castmethod)
      from pg_cast c where c.oid >= 16384 and ${NOT_EXTENSION_MEMBER("pg_cast", "c.oid")}`,
  publications: `select format('%s all_tables=%s', pubname, puballtables) from pg_publication`,
  database_role_settings: `
    select format('role=%s %s', coalesce(pg_get_userbyid(nullif(s.setrole, 0)), 'all'), s.setconfig::text)
      from pg_db_role_setting s where s.setdatabase = (select oid from pg_database where datname = current_database())`,
  event_triggers: `select format('%s on %s: %s', evtname, evtevent, evtfoid::regproc) from pg_event_trigger`,
};

/** Rows of every ordinary table outside graphile_migrate: a count and a digest of the rows. */
async function tableContents(client: pg.Pool | pg.PoolClient): Promise<string[]> {
  const { rows: tables } = await client.query<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.oid in (${USER_NAMESPACES}) and c.relkind in ('r', 'p') and ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}`,
  );
  const lines: string[] = [];
  for (const { name } of tables) {
    const { rows } = await client.query<{ rows: string; digest: string | null }>(
      `select count(*)::text as rows, md5(string_agg(t::text, E'\\n' order by t::text)) as digest from ${name} t`,
    );
    lines.push(`${name} rows=${rows[0]!.rows} digest=${rows[0]!.digest}`);
  }
  return lines;
}

export async function catalogSnapshot(
  client: pg.Pool | pg.PoolClient,
  options: { withData?: boolean } = {},
): Promise<CatalogSnapshot> {
  const snapshot: CatalogSnapshot = {};
  for (const [kind, sql] of Object.entries(QUERIES)) {
    const { rows } = await client.query<{ line: string }>(`select line from (${sql}) as lines(line)`);
    snapshot[kind] = rows.map((row) => row.line).sort();
  }
  if (options.withData ?? true) snapshot.data = (await tableContents(client)).sort();
  return snapshot;
}

/** What differs between two snapshots, as readable lines: `- kind: line` only in `expected`, `+ kind: line` only in `actual`. */
export function catalogDifferences(expected: CatalogSnapshot, actual: CatalogSnapshot): string[] {
  const differences: string[] = [];
  for (const kind of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    const before = new Set(expected[kind] ?? []);
    const after = new Set(actual[kind] ?? []);
    for (const line of before) if (!after.has(line)) differences.push(`- ${kind}: ${line}`);
    for (const line of after) if (!before.has(line)) differences.push(`+ ${kind}: ${line}`);
  }
  return differences;
}
