// Builds one valid row per tenant table for an organisation, from the catalog alone: foreign keys
// point at the same organisation's rows, required columns get values their CHECKs accept.
// A new tenant table is handled without edits; an unknown column type fails with a clear message.
import { randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { GLOBAL_TABLES, inDependencyOrder, quoteTable, type ColumnInfo, type TableInfo } from "./catalog.ts";

export type Row = Record<string, unknown>;

/** A text value that passes the column's CHECK constraints, asked of PostgreSQL itself. */
async function sampleText(owner: pg.Pool, table: string, column: ColumnInfo): Promise<string> {
  const listed = [
    ...(column.allowedValues ?? []),
    ...column.checks.flatMap((check) => [...check.matchAll(/'([^'~]*)'::text/g)].map((m) => m[1]!)),
  ];
  const candidates = [
    ...listed,
    `s${randomBytes(4).toString("hex")}@example.test`,
    randomBytes(24).toString("base64url"),
    `s${randomBytes(4).toString("hex")}`,
  ];
  for (const candidate of candidates) {
    let accepted = true;
    for (const check of column.checks) {
      const expression = check.replace(/^CHECK /, "").replace(new RegExp(`\\b${column.name}\\b`, "g"), "$1::text");
      const { rows } = await owner.query(`select coalesce(${expression}, true) as ok`, [candidate]);
      if (!rows[0].ok) accepted = false;
    }
    if (accepted) return candidate;
  }
  throw new Error(`row-factory: no sample text satisfies the checks of ${table}.${column.name}; add a candidate`);
}

export async function sampleValue(owner: pg.Pool, table: string, column: ColumnInfo): Promise<unknown> {
  const type = column.type;
  if (/^(text|character varying|citext)/.test(type)) return sampleText(owner, table, column);
  if (/^(smallint|integer|bigint|numeric|real|double precision)/.test(type)) return 1;
  if (type === "boolean") return true;
  if (type === "uuid") return randomUUID();
  if (type.startsWith("timestamp")) return new Date();
  if (type === "date") return "2026-01-01";
  if (type === "jsonb" || type === "json") return {};
  if (type.endsWith("[]")) return [];
  throw new Error(
    `row-factory: no sample value for ${table}.${column.name} of type ${type}; teach sampleValue() this type`,
  );
}

/** One row per tenant table for this organisation (an existing row is reused), keyed by table. */
export async function sampleRowsFor(
  owner: pg.Pool,
  tables: TableInfo[],
  organisation: { id: string; userId: string },
): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>();
  for (const table of inDependencyOrder(tables)) {
    if (!table.isTenantTable) continue;
    const existing = await owner.query(`select * from ${quoteTable(table.name)} where organisation_id = $1 limit 1`, [
      organisation.id,
    ]);
    // Generated columns (search documents) are left out: rows are templates for inserts.
    const writable = (row: Row) => {
      for (const column of table.columns) if (column.generated) delete row[column.name];
      return row;
    };
    if (existing.rows[0]) {
      rows.set(table.name, writable(existing.rows[0] as Row));
      continue;
    }
    const values: Row = { organisation_id: organisation.id };
    for (const fk of table.foreignKeys) {
      if (fk.referencedTable === table.name) continue;
      const parent =
        fk.referencedTable === "iam.users"
          ? { id: organisation.userId }
          : fk.referencedTable === "iam.organisations"
            ? { id: organisation.id }
            : rows.get(fk.referencedTable);
      if (!parent) throw new Error(`row-factory: no ${fk.referencedTable} row to reference from ${table.name}`);
      fk.columns.forEach((column, i) => {
        if (column !== "organisation_id") values[column] = parent[fk.referencedColumns[i]!];
      });
    }
    for (const column of table.columns) {
      if (column.name in values || !column.notNull || column.hasDefault) continue;
      values[column.name] = await sampleValue(owner, table.name, column);
    }
    const names = Object.keys(values);
    const { rows: inserted } = await owner.query(
      `insert into ${quoteTable(table.name)} (${names.map((n) => `"${n}"`).join(", ")})
       values (${names.map((_, i) => `$${i + 1}`).join(", ")}) returning *`,
      names.map((n) => values[n]),
    );
    rows.set(table.name, writable(inserted[0] as Row));
  }
  return rows;
}

/** A checksum of everything an organisation holds in one table, to prove it did not change. */
export async function tableChecksum(owner: pg.Pool, table: string, organisationId: string): Promise<string> {
  const { rows } = await owner.query<{ checksum: string; count: string }>(
    `select count(*) as count, coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as checksum
       from ${quoteTable(table)} t where organisation_id = $1`,
    [organisationId],
  );
  return `${rows[0]!.count}:${rows[0]!.checksum}`;
}

export { GLOBAL_TABLES };
