// Reads the live catalog: which tables the API schemas hold, their columns, keys and policies.
// The catalog and isolation tests are generated from this, so a new table is covered the day
// it is added.
import type pg from "pg";

export const API_SCHEMAS = ["iam", "crm", "outreach", "tracking"];
/** The only tables without organisation_id: the tenants themselves and the people who sign in. */
export const GLOBAL_TABLES = ["iam.organisations", "iam.users"];

export interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  /** Definitions of CHECK constraints that mention only this column. */
  checks: string[];
  /** The values of the `@enum` lookup table this column references (an enumeration), if any. */
  allowedValues?: string[];
  /** A generated column (e.g. a search document): computed by PostgreSQL, never written. */
  generated: boolean;
}

/**
 * A foreign key to an `@enum` lookup table of `reference` (migrations/current/500): a value
 * constraint shared by every tenant, not a relation between rows, so it carries no
 * organisation_id. Listed apart from `foreignKeys`, whose rules are the tenant rules.
 */
export interface EnumReferenceInfo {
  name: string;
  column: string;
  lookupTable: string;
  values: string[];
}

export interface ForeignKeyInfo {
  name: string;
  table: string;
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
}

export interface TableInfo {
  name: string;
  isTenantTable: boolean;
  columns: ColumnInfo[];
  primaryKey: string[];
  foreignKeys: ForeignKeyInfo[];
  enumReferences: EnumReferenceInfo[];
}

export async function listTables(client: pg.Pool | pg.PoolClient): Promise<TableInfo[]> {
  const { rows: tables } = await client.query<{ oid: number; name: string }>(
    `select c.oid::int as oid, format('%s.%s', n.nspname, c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1) and c.relkind in ('r', 'p')
      order by 2`,
    [API_SCHEMAS],
  );
  const { rows: columns } = await client.query<{
    table_oid: number;
    name: string;
    type: string;
    not_null: boolean;
    has_default: boolean;
    generated: boolean;
    checks: string[];
  }>(
    `select a.attrelid::int as table_oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
            a.attnotnull as not_null, a.atthasdef or a.attidentity <> '' or a.attgenerated <> '' as has_default,
            a.attgenerated <> '' as generated,
            coalesce(array(
              select pg_get_constraintdef(k.oid) from pg_constraint k
               where k.conrelid = a.attrelid and k.contype = 'c' and k.conkey = array[a.attnum]
            ), '{}') as checks
       from pg_attribute a
      where a.attrelid = any($1) and a.attnum > 0 and not a.attisdropped
      order by a.attrelid, a.attnum`,
    [tables.map((t) => t.oid)],
  );
  const { rows: keys } = await client.query<{
    table_oid: number;
    name: string;
    type: string;
    columns: string[];
    referenced_table: string | null;
    referenced_columns: string[] | null;
    is_enum: boolean;
  }>(
    `select k.conrelid::int as table_oid, k.conname as name, k.contype as type,
            array(select a.attname from unnest(k.conkey) with ordinality u(n, i)
                    join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n order by u.i)::text[] as columns,
            case when k.contype = 'f' then format('%s.%s', rn.nspname, r.relname) end as referenced_table,
            case when k.contype = 'f' then array(select a.attname from unnest(k.confkey) with ordinality u(n, i)
                    join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n order by u.i)::text[] end as referenced_columns,
            case when k.contype = 'f' and rn.nspname = 'reference' and obj_description(r.oid, 'pg_class') ~ '^@enum'
                 then true else false end as is_enum
       from pg_constraint k
       left join pg_class r on r.oid = k.confrelid
       left join pg_namespace rn on rn.oid = r.relnamespace
      where k.conrelid = any($1) and k.contype in ('p', 'f')
      order by k.conname`,
    [tables.map((t) => t.oid)],
  );
  const enumValues = new Map<string, string[]>();
  for (const lookup of new Set(keys.filter((k) => k.is_enum).map((k) => k.referenced_table!))) {
    const { rows } = await client.query<{ value: string }>(
      `select value from ${quoteTable(lookup)} order by sort_order`,
    );
    enumValues.set(
      lookup,
      rows.map((r) => r.value),
    );
  }
  return tables.map((table) => {
    const tableColumns = columns.filter((c) => c.table_oid === table.oid);
    const tableKeys = keys.filter((k) => k.table_oid === table.oid);
    const enumReferences = tableKeys
      .filter((k) => k.type === "f" && k.is_enum)
      .map((k) => ({
        name: k.name,
        column: k.columns[0]!,
        lookupTable: k.referenced_table!,
        values: enumValues.get(k.referenced_table!)!,
      }));
    return {
      name: table.name,
      isTenantTable: tableColumns.some((c) => c.name === "organisation_id"),
      columns: tableColumns.map((c) => ({
        name: c.name,
        type: c.type,
        notNull: c.not_null,
        hasDefault: c.has_default,
        checks: c.checks,
        allowedValues: enumReferences.find((e) => e.column === c.name)?.values,
        generated: c.generated,
      })),
      primaryKey: tableKeys.find((k) => k.type === "p")?.columns ?? [],
      foreignKeys: tableKeys
        .filter((k) => k.type === "f" && !k.is_enum)
        .map((k) => ({
          name: k.name,
          table: table.name,
          columns: k.columns,
          referencedTable: k.referenced_table!,
          referencedColumns: k.referenced_columns!,
        })),
      enumReferences,
    };
  });
}

/** Tables ordered so that every table comes after the tables it references. */
export function inDependencyOrder(tables: TableInfo[]): TableInfo[] {
  const ordered: TableInfo[] = [];
  const placed = new Set<string>();
  let remaining = [...tables];
  while (remaining.length > 0) {
    const ready = remaining.filter((table) =>
      table.foreignKeys.every(
        (fk) =>
          fk.referencedTable === table.name ||
          placed.has(fk.referencedTable) ||
          !tables.some((t) => t.name === fk.referencedTable),
      ),
    );
    if (ready.length === 0) throw new Error(`Cyclic foreign keys among ${remaining.map((t) => t.name).join(", ")}`);
    for (const table of ready) {
      ordered.push(table);
      placed.add(table.name);
    }
    remaining = remaining.filter((t) => !placed.has(t.name));
  }
  return ordered;
}

export function quoteTable(name: string): string {
  return name
    .split(".")
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join(".");
}
