// Restores an organisation export into a database that does not hold that organisation yet,
// in one transaction, streamed: the file is read chunk by chunk (ExportReader) and rows are
// inserted in batches as they come, so memory stays bounded whatever the export's size. Rows go
// in exactly as exported: the tables' own triggers (scheduling, counters, audit) are paused for
// the import so that nothing is derived twice.
import { createReadStream } from "node:fs";
import type pg from "pg";
import { EXPORT_FORMAT, EXPORT_VERSION } from "./export-organisation.ts";
import { ExportReader, ExportSyntaxError, type ExportEvent } from "./export-reader.ts";
import { quoteTableName, tenantTablesInOrder, type TenantTable } from "./tenant-tables.ts";

/** Rows per insert, and a cap on a batch's JSON text so that a few huge rows cannot add up. */
const BATCH_ROWS = 1000;
const BATCH_CHARS = 8 * 1024 * 1024;
/** Characters read per chunk (the stream's high-water mark). */
const CHUNK_SIZE = 256 * 1024;

export class ImportError extends Error {
  override name = "ImportError";
}

interface Organisation {
  id: string;
  slug: string;
  name: string;
}

/** What an import does with the events of one export, in order; all of it inside one transaction. */
class ImportRun {
  private readonly header = new Map<string, unknown>();
  private tables: TenantTable[] = [];
  private current: { table: TenantTable; index: number; count: number; columns: string } | undefined;
  private lastIndex = -1;
  private batch: string[] = [];
  private batchChars = 0;
  private inTransaction = false;
  readonly counts: Record<string, number> = {};

  private readonly client: pg.Client;
  private readonly file: string;

  constructor(client: pg.Client, file: string) {
    this.client = client;
    this.file = file;
  }

  async handle(event: ExportEvent): Promise<void> {
    switch (event.kind) {
      case "header":
        this.header.set(event.key, event.value);
        return;
      case "tables":
        return this.begin();
      case "table":
        return this.startTable(event.name);
      case "row":
        this.batch.push(event.json);
        this.batchChars += event.json.length;
        if (this.batch.length >= BATCH_ROWS || this.batchChars >= BATCH_CHARS) await this.flush();
        this.current!.count++;
        return;
      case "tableEnd":
        return this.endTable();
      case "end":
        return;
    }
  }

  /** The header is complete when "tables" starts (an export writes it first): check it, then begin. */
  private async begin(): Promise<void> {
    const organisation = this.header.get("organisation") as Organisation | undefined;
    if (
      this.header.get("format") !== EXPORT_FORMAT ||
      this.header.get("version") !== EXPORT_VERSION ||
      typeof organisation?.id !== "string" ||
      typeof organisation.slug !== "string"
    ) {
      throw new ImportError(`${this.file} is not a ${EXPORT_FORMAT} file of version ${EXPORT_VERSION}.`);
    }
    await this.client.query("begin");
    this.inTransaction = true;
    const { rowCount } = await this.client.query("select 1 from iam.organisations where id = $1 or slug = $2", [
      organisation.id,
      organisation.slug,
    ]);
    if (rowCount) throw new ImportError(`The organisation "${organisation.slug}" already exists in this database.`);
    this.tables = await tenantTablesInOrder(this.client);
  }

  private async startTable(name: string): Promise<void> {
    const index = this.tables.findIndex((t) => t.name === name);
    if (index < 0) throw new ImportError(`The export holds tables this database does not have: ${name}.`);
    // Streamed, rows go in as they come: every table must follow the tables it references.
    if (index <= this.lastIndex) {
      throw new ImportError(
        `The export's tables are not in dependency order (${name} after ${this.tables[this.lastIndex]!.name}); ` +
          "write it with npm run tenant:export.",
      );
    }
    this.lastIndex = index;
    const table = this.tables[index]!;
    // Generated columns (e.g. the search documents) are computed again, never inserted.
    const { rows: columnRows } = await this.client.query<{ name: string }>(
      `select quote_ident(attname) as name from pg_attribute
        where attrelid = $1::regclass and attnum > 0 and not attisdropped and attgenerated = '' order by attnum`,
      [quoteTableName(table.name)],
    );
    this.current = { table, index, count: 0, columns: columnRows.map((c) => c.name).join(", ") };
    await this.client.query(`alter table ${quoteTableName(table.name)} disable trigger user`);
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const quoted = quoteTableName(this.current!.table.name);
    const columns = this.current!.columns;
    const rows = `[${this.batch.join(",")}]`;
    this.batch = [];
    this.batchChars = 0;
    await this.client.query(
      `insert into ${quoted} (${columns}) select ${columns} from jsonb_populate_recordset(null::${quoted}, $1::jsonb)`,
      [rows],
    );
  }

  private async endTable(): Promise<void> {
    await this.flush();
    const { table, count } = this.current!;
    await this.client.query(`alter table ${quoteTableName(table.name)} enable trigger user`);
    this.counts[table.name] = count;
    this.current = undefined;
  }

  async commit(): Promise<Record<string, number>> {
    if (!this.inTransaction) {
      throw new ImportError(`${this.file} is not a ${EXPORT_FORMAT} file of version ${EXPORT_VERSION}.`);
    }
    // The rows went in with the triggers off. An export holds the status totals of its snapshot; one
    // written before they existed (migration 000012) does not: they are counted from the rows.
    if (this.counts["app_private.status_totals"] === undefined) {
      const organisation = this.header.get("organisation") as Organisation;
      await this.client.query("select app_hidden.recount_status_totals($1)", [organisation.id]);
    }
    await this.client.query("commit");
    this.inTransaction = false;
    // Tables the export does not list had no rows.
    return Object.fromEntries(this.tables.map((t) => [t.name, this.counts[t.name] ?? 0]));
  }

  async rollback(): Promise<void> {
    if (this.inTransaction) await this.client.query("rollback").catch(() => {});
    this.inTransaction = false;
  }
}

export async function importOrganisation(client: pg.Client, file: string): Promise<Record<string, number>> {
  const run = new ImportRun(client, file);
  const reader = new ExportReader();
  try {
    // Awaiting each chunk's inserts before the next chunk is read is the stream's back-pressure.
    for await (const chunk of createReadStream(file, { encoding: "utf8", highWaterMark: CHUNK_SIZE })) {
      for (const event of reader.feed(chunk as string)) await run.handle(event);
    }
    reader.end();
    return await run.commit();
  } catch (error) {
    await run.rollback();
    if (error instanceof ExportSyntaxError || (error as { code?: string }).code === "ENOENT") {
      throw new ImportError(`${file} is not a readable export: ${(error as Error).message}`);
    }
    if ((error as { code?: string }).code === "23505") {
      throw new ImportError(
        `Some rows of the export already exist in this database (${(error as { constraint?: string }).constraint}).`,
      );
    }
    throw error;
  }
}
