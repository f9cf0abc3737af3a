// Runs bench/seed/seed.sql phase by phase, in one transaction, as the database owner, printing a
// progress line per phase; then records what was seeded and vacuums/analyzes the tables.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { DEFAULT_SMALL_PEOPLE, type Preset } from "../presets.ts";

const SEED_SQL = path.join(path.dirname(fileURLToPath(import.meta.url)), "seed.sql");
/** The schemas whose tables are seeded (and whose user triggers are off while seeding). */
const SEEDED_SCHEMAS = ["iam", "crm", "outreach", "tracking"];

export interface SeedPhase {
  name: string;
  sql: string;
}

export interface SeedSummary {
  preset: string;
  seconds: number;
  /** Rows per table after seeding. */
  rows: Record<string, number>;
  /**
   * How many of the numbered pixel tokens (newest first) belong to emails of the last 7 days:
   * the pixel scenario picks among 1..pixelTokens, since opens come soon after sending.
   */
  pixelTokens: number;
  phases: Array<{ name: string; seconds: number; rows: number }>;
}

/** The phases of seed.sql: the text between `--- phase: <name>` lines. */
export function readSeedPhases(file = SEED_SQL): SeedPhase[] {
  const text = readFileSync(file, "utf8");
  const parts = text.split(/^--- phase: (.+)$/m);
  const phases: SeedPhase[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    phases.push({ name: parts[i]!.trim(), sql: parts[i + 1]!.trim() });
  }
  return phases;
}

function rowsOf(result: pg.QueryResult | pg.QueryResult[]): number {
  const results = Array.isArray(result) ? result : [result];
  return results.reduce(
    (total, r) => total + (r.command === "INSERT" || r.command === "SELECT" ? (r.rowCount ?? 0) : 0),
    0,
  );
}

export async function seedDatabase(
  ownerUrl: string,
  preset: Preset,
  fingerprint: string,
  log: (line: string) => void,
): Promise<SeedSummary> {
  const phases = readSeedPhases();
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  const started = performance.now();
  const summary: SeedSummary = { preset: preset.name, seconds: 0, rows: {}, pixelTokens: 0, phases: [] };
  try {
    await client.query("begin");
    // A throwaway data set: durability per commit is not needed, memory for sorts and hashes is.
    await client.query("set local synchronous_commit = off");
    await client.query("set local work_mem = '256MB'");
    await client.query("set local maintenance_work_mem = '512MB'");
    const tables = await seededTables(client);
    for (const table of tables) await client.query(`alter table ${table} disable trigger user`);
    // Bulk loading: foreign keys and secondary indexes are dropped and rebuilt afterwards (one
    // validating join per key, one sorted build per index: several times faster than row by row).
    const before = await constraintsAndIndexes(client);
    await dropForBulkLoad(client, before);
    log(
      `[seed]   - ${"foreign keys and indexes off".padEnd(28)} ${String(before.foreignKeys.length + before.indexes.length).padStart(11)} objects`,
    );
    await client.query(
      `create temp table bench_preset on commit drop as
       select $1::integer as organisations, $2::integer as large, $3::integer as large_people,
              $4::integer as small_people_least, $5::integer as small_people_most`,
      [preset.organisations, preset.large, preset.largePeople, ...(preset.smallPeople ?? DEFAULT_SMALL_PEOPLE)],
    );
    for (const [index, phase] of phases.entries()) {
      const phaseStarted = performance.now();
      const rows = rowsOf(await client.query(phase.sql));
      const seconds = (performance.now() - phaseStarted) / 1000;
      summary.phases.push({ name: phase.name, seconds, rows });
      log(
        `[seed] ${String(index + 1).padStart(2)}/${phases.length} ${phase.name.padEnd(28)} ` +
          `${rows.toLocaleString("en-GB").padStart(11)} rows ${seconds.toFixed(1).padStart(6)} s`,
      );
    }
    const rebuildStarted = performance.now();
    await rebuildAfterBulkLoad(client, before);
    const after = await constraintsAndIndexes(client);
    if (JSON.stringify(after) !== JSON.stringify(before)) {
      throw new Error("bench seed: the rebuilt foreign keys and indexes differ from the migrated schema's");
    }
    log(
      `[seed]   + ${"foreign keys and indexes on".padEnd(28)} ` +
        `${String(before.foreignKeys.length + before.indexes.length).padStart(11)} objects ${((performance.now() - rebuildStarted) / 1000).toFixed(1).padStart(6)} s`,
    );
    for (const table of tables) await client.query(`alter table ${table} enable trigger user`);
    const { rows: pixelRows } = await client.query<{ count: string }>(
      "select count(*) from pg_temp.bench_messages where sent_at > now() - interval '7 days'",
    );
    summary.pixelTokens = Number(pixelRows[0]!.count);
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => {});
    await client.end();
    throw error;
  }
  try {
    const vacuumStarted = performance.now();
    for (const table of await seededTables(client)) await client.query(`vacuum (analyze) ${table}`);
    log(`[seed] vacuum and analyze ${((performance.now() - vacuumStarted) / 1000).toFixed(1).padStart(38)} s`);
    summary.rows = await countRows(client);
    summary.seconds = (performance.now() - started) / 1000;
    await client.query(`
      create schema if not exists bench;
      comment on schema bench is 'What the benchmark seeded into this database (bench/seed); not part of the API.';
      create table if not exists bench.seed_info (
        id bigint generated always as identity primary key,
        preset text not null, fingerprint text not null, seeded_at timestamptz not null default now(),
        seconds double precision not null, rows jsonb not null, pixel_tokens bigint not null, phases jsonb not null
      );`);
    await client.query(
      `insert into bench.seed_info (preset, fingerprint, seconds, rows, pixel_tokens, phases)
       values ($1, $2, $3, $4, $5, $6)`,
      [
        preset.name,
        fingerprint,
        summary.seconds,
        JSON.stringify(summary.rows),
        summary.pixelTokens,
        JSON.stringify(summary.phases),
      ],
    );
    log(
      `[seed] done: ${Object.values(summary.rows)
        .reduce((a, b) => a + b, 0)
        .toLocaleString(
          "en-GB",
        )} rows in ${summary.seconds.toFixed(0)} s, ${formatBytes(await databaseBytes(client))} on disk`,
    );
    return summary;
  } finally {
    await client.end();
  }
}

/** The size of the connected database on disk (tables, indexes, TOAST; not its WAL). */
export async function databaseBytes(client: pg.Client | pg.Pool): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>("select pg_database_size(current_database()) as bytes");
  return Number(rows[0]!.bytes);
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

async function seededTables(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname = any($1)
      order by 1`,
    [SEEDED_SCHEMAS],
  );
  return rows.map((r) => r.name);
}

interface SchemaObjects {
  foreignKeys: Array<{ table: string; name: string; definition: string; comment: string | null }>;
  indexes: Array<{ name: string; definition: string; comment: string | null }>;
}

/** The foreign keys and the indexes not backing a constraint, of the seeded schemas, with their comments. */
async function constraintsAndIndexes(client: pg.Client): Promise<SchemaObjects> {
  const { rows: foreignKeys } = await client.query<SchemaObjects["foreignKeys"][number]>(
    `select format('%I.%I', n.nspname, t.relname) as table, c.conname as name,
            pg_get_constraintdef(c.oid) as definition, obj_description(c.oid, 'pg_constraint') as comment
       from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
      where c.contype = 'f' and n.nspname = any($1)
      order by 1, 2`,
    [SEEDED_SCHEMAS],
  );
  const { rows: indexes } = await client.query<SchemaObjects["indexes"][number]>(
    `select format('%I.%I', n.nspname, i.relname) as name, pg_get_indexdef(i.oid) as definition,
            obj_description(i.oid, 'pg_class') as comment
       from pg_index x join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
      where n.nspname = any($1) and not exists (select 1 from pg_constraint c where c.conindid = i.oid)
      order by 1`,
    [SEEDED_SCHEMAS],
  );
  return { foreignKeys, indexes };
}

async function dropForBulkLoad(client: pg.Client, objects: SchemaObjects): Promise<void> {
  for (const fk of objects.foreignKeys) {
    await client.query(`alter table ${fk.table} drop constraint ${client.escapeIdentifier(fk.name)}`);
  }
  for (const index of objects.indexes) await client.query(`drop index ${index.name}`);
}

async function rebuildAfterBulkLoad(client: pg.Client, objects: SchemaObjects): Promise<void> {
  for (const index of objects.indexes) {
    await client.query(index.definition);
    if (index.comment !== null)
      await client.query(`comment on index ${index.name} is ${client.escapeLiteral(index.comment)}`);
  }
  for (const fk of objects.foreignKeys) {
    const name = client.escapeIdentifier(fk.name);
    await client.query(`alter table ${fk.table} add constraint ${name} ${fk.definition}`);
    if (fk.comment !== null)
      await client.query(`comment on constraint ${name} on ${fk.table} is ${client.escapeLiteral(fk.comment)}`);
  }
}

async function countRows(client: pg.Client): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of await seededTables(client)) {
    const { rows } = await client.query<{ count: string }>(`select count(*) from ${table}`);
    counts[table] = Number(rows[0]!.count);
  }
  return counts;
}
