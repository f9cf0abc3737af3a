// Restores an organisation export into a database that does not hold that organisation yet,
// in one transaction. Rows go in exactly as exported: the tables' own triggers (scheduling,
// counters, audit) are paused for the import so that nothing is derived twice.
import { readFile } from "node:fs/promises";
import type pg from "pg";
import { EXPORT_FORMAT, EXPORT_VERSION } from "./export-organisation.ts";
import { quoteTableName, tenantTablesInOrder } from "./tenant-tables.ts";

interface ExportFile {
  format: string;
  version: number;
  organisation: { id: string; slug: string; name: string };
  tables: Record<string, unknown[]>;
}

const BATCH_SIZE = 1000;

export class ImportError extends Error {
  override name = "ImportError";
}

export async function importOrganisation(client: pg.Client, file: string): Promise<Record<string, number>> {
  let parsed: ExportFile;
  try {
    parsed = JSON.parse(await readFile(file, "utf8")) as ExportFile;
  } catch (error) {
    throw new ImportError(`${file} is not a readable export: ${(error as Error).message}`);
  }
  if (parsed.format !== EXPORT_FORMAT || parsed.version !== EXPORT_VERSION || typeof parsed.tables !== "object") {
    throw new ImportError(`${file} is not a ${EXPORT_FORMAT} file of version ${EXPORT_VERSION}.`);
  }
  const counts: Record<string, number> = {};
  await client.query("begin");
  try {
    const { rowCount } = await client.query("select 1 from iam.organisations where id = $1 or slug = $2", [
      parsed.organisation.id,
      parsed.organisation.slug,
    ]);
    if (rowCount) {
      throw new ImportError(`The organisation "${parsed.organisation.slug}" already exists in this database.`);
    }
    const tables = await tenantTablesInOrder(client);
    const unknown = Object.keys(parsed.tables).filter((name) => !tables.some((t) => t.name === name));
    if (unknown.length > 0)
      throw new ImportError(`The export holds tables this database does not have: ${unknown.join(", ")}.`);
    for (const table of tables) {
      const rows = parsed.tables[table.name] ?? [];
      const quoted = quoteTableName(table.name);
      await client.query(`alter table ${quoted} disable trigger user`);
      // Generated columns (e.g. the search documents) are computed again, never inserted.
      const { rows: columnRows } = await client.query<{ name: string }>(
        `select quote_ident(attname) as name from pg_attribute
          where attrelid = $1::regclass and attnum > 0 and not attisdropped and attgenerated = '' order by attnum`,
        [quoted],
      );
      const columns = columnRows.map((c) => c.name).join(", ");
      for (let start = 0; start < rows.length; start += BATCH_SIZE) {
        await client.query(
          `insert into ${quoted} (${columns}) select ${columns} from jsonb_populate_recordset(null::${quoted}, $1::jsonb)`,
          [JSON.stringify(rows.slice(start, start + BATCH_SIZE))],
        );
      }
      await client.query(`alter table ${quoted} enable trigger user`);
      counts[table.name] = rows.length;
    }
    await client.query("commit");
    return counts;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    if ((error as { code?: string }).code === "23505") {
      throw new ImportError(
        `Some rows of the export already exist in this database (${(error as { constraint?: string }).constraint}).`,
      );
    }
    throw error;
  }
}
