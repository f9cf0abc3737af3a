// The tables that hold an organisation's data, in an order where every table comes after the
// tables it references: what an export writes and an import restores.
import type pg from "pg";

export interface TenantTable {
  /** schema.table */
  name: string;
  /** How to select this organisation's rows (`$1` is the organisation id). */
  filter: string;
}

/**
 * Tables that are part of a tenant but not of its data: sessions are ended by an export/import;
 * mailed links (their token hashes) and queued mail stay behind, so an import never revives a link.
 */
const NOT_EXPORTED = new Set([
  "app_private.sessions",
  "app_private.organisation_deletions",
  "app_private.tokens",
  "app_private.mail_outbox",
]);

export async function tenantTablesInOrder(client: pg.Client | pg.PoolClient): Promise<TenantTable[]> {
  const { rows } = await client.query<{ name: string; references: string[] }>(
    `select format('%s.%s', n.nspname, c.relname) as name,
            coalesce(array(select distinct format('%s.%s', rn.nspname, r.relname)
                             from pg_constraint k join pg_class r on r.oid = k.confrelid join pg_namespace rn on rn.oid = r.relnamespace
                            where k.conrelid = c.oid and k.contype = 'f' and k.confrelid <> c.oid), '{}') as references
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname in ('iam', 'crm', 'outreach', 'tracking', 'app_private')
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'organisation_id' and not a.attisdropped)
      order by 1`,
  );
  const members = "select m.user_id from iam.organisation_users m where m.organisation_id = $1";
  const tables: Array<{ name: string; references: string[]; filter: string }> = [
    { name: "iam.organisations", references: [], filter: "id = $1" },
    { name: "iam.users", references: [], filter: `id in (${members})` },
    { name: "app_private.user_secrets", references: ["iam.users"], filter: `user_id in (${members})` },
    ...rows.filter((r) => !NOT_EXPORTED.has(r.name)).map((r) => ({ ...r, filter: "organisation_id = $1" })),
  ];
  const ordered: TenantTable[] = [];
  const placed = new Set<string>();
  const known = new Set(tables.map((t) => t.name));
  while (ordered.length < tables.length) {
    const ready = tables.filter(
      (t) => !placed.has(t.name) && t.references.every((r) => placed.has(r) || !known.has(r)),
    );
    if (ready.length === 0) throw new Error("cyclic foreign keys between tenant tables");
    for (const table of ready) {
      ordered.push({ name: table.name, filter: table.filter });
      placed.add(table.name);
    }
  }
  return ordered;
}

export function quoteTableName(name: string): string {
  return name
    .split(".")
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join(".");
}
