// Exports every row of one organisation as JSON, table by table, streamed: rows are read with a
// cursor in batches from one consistent snapshot and written as they come, so a large
// organisation never needs its size in memory.
import type { Writable } from "node:stream";
import { once } from "node:events";
import type pg from "pg";
import { quoteTableName, tenantTablesInOrder } from "./tenant-tables.ts";

export const EXPORT_FORMAT = "prospectflow-organisation-export";
export const EXPORT_VERSION = 1;
const BATCH_SIZE = 1000;

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, "drain");
}

/** Writes the export of the organisation with this slug; returns the number of rows per table. */
export async function exportOrganisation(
  client: pg.Client,
  slug: string,
  out: Writable,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  await client.query("begin isolation level repeatable read read only");
  try {
    const { rows } = await client.query<{ id: string; name: string }>(
      "select id, name from iam.organisations where slug = $1",
      [slug],
    );
    const organisation = rows[0];
    if (!organisation) throw new Error(`No organisation with the slug "${slug}".`);
    await write(
      out,
      `{"format":${JSON.stringify(EXPORT_FORMAT)},"version":${EXPORT_VERSION},` +
        `"exportedAt":${JSON.stringify(new Date().toISOString())},` +
        `"organisation":${JSON.stringify({ id: organisation.id, slug, name: organisation.name })},"tables":{`,
    );
    const tables = await tenantTablesInOrder(client);
    for (const [index, table] of tables.entries()) {
      await write(out, `${index === 0 ? "" : ","}${JSON.stringify(table.name)}:[`);
      await client.query(
        `declare export_rows no scroll cursor for
           select to_jsonb(t)::text as row from ${quoteTableName(table.name)} t where ${table.filter}`,
        [organisation.id],
      );
      let count = 0;
      for (;;) {
        const batch = await client.query<{ row: string }>(`fetch ${BATCH_SIZE} from export_rows`);
        if (batch.rows.length === 0) break;
        await write(out, `${count === 0 ? "" : ","}${batch.rows.map((r) => r.row).join(",")}`);
        count += batch.rows.length;
      }
      await client.query("close export_rows");
      await write(out, "]");
      counts[table.name] = count;
    }
    await write(out, "}}\n");
    await client.query("commit");
    return counts;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  }
}
