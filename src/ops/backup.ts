// One backup: a compressed custom-format pg_dump of the database, taken from an exported snapshot
// so that the row counts in its manifest describe exactly what the dump holds; written under a
// temporary name, verified, then given its timestamped name; older dumps pruned afterwards.
import fs from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { databaseNameOf } from "../db/connection-urls.ts";
import type { Logger } from "../logger.ts";
import {
  dumpFileName,
  pruneBackups,
  sha256Of,
  verifyDumpFile,
  writeManifest,
  type BackupKind,
  type BackupManifest,
} from "./backup-files.ts";
import { databaseStepFailed } from "./database-failures.ts";
import { OpsError } from "./ops-error.ts";
import {
  assertCanDump,
  connectionArguments,
  runTool,
  serverMajorVersion,
  type PostgresTools,
} from "./postgres-tools.ts";

export interface BackupOptions {
  /** Who dumps: the owner (DATABASE_URL) owns every object, so it can read everything. */
  databaseUrl: string;
  directory: string;
  kind: BackupKind;
  retentionDays: number;
  tools: PostgresTools;
  logger: Logger;
  now?: () => Date;
}

export interface BackupResult {
  file: string;
  manifest: BackupManifest;
  pruned: string[];
}

const PG_DUMP_MODE_FLAGS: Record<BackupKind, string[]> = {
  full: [],
  "pre-restore": [],
  "pre-migrate": [],
  schema: ["--schema-only"],
  data: ["--data-only"],
};

export async function createBackup(options: BackupOptions): Promise<BackupResult> {
  const { databaseUrl, directory, kind, tools, logger } = options;
  const now = options.now ?? (() => new Date());
  const database = databaseNameOf(databaseUrl);
  await fs.mkdir(directory, { recursive: true, mode: 0o700 });

  const snapshotClient = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  try {
    await snapshotClient.connect();
  } catch (error) {
    throw databaseStepFailed("connect for the backup (DATABASE_URL)", databaseUrl, error);
  }
  const startedAt = now();
  const file = path.join(directory, dumpFileName(database, kind, startedAt));
  const partial = `${file}.partial`;
  try {
    const { rows: versionRows } = await snapshotClient.query<{ server_version_num: string; server_version: string }>(
      "select current_setting('server_version_num') as server_version_num, current_setting('server_version') as server_version",
    );
    const serverVersion = versionRows[0]!.server_version;
    const pgDumpVersion = await assertCanDump(tools.pgDump, serverMajorVersion(versionRows[0]!.server_version_num));

    // The snapshot pins what pg_dump sees and what we count: both describe the same instant.
    await snapshotClient.query("begin isolation level repeatable read read only");
    // A table whose rows RLS would hide from this role must fail loudly, not be dumped half empty.
    await snapshotClient.query("set local row_security = off");
    const { rows: snapshotRows } = await snapshotClient.query<{ snapshot: string }>(
      "select pg_export_snapshot() as snapshot",
    );
    const rowCounts = await countRows(snapshotClient);

    const { dbname, env } = connectionArguments(databaseUrl);
    try {
      await runTool(
        tools.pgDump,
        [
          "--format=custom",
          "--compress=6",
          `--snapshot=${snapshotRows[0]!.snapshot}`,
          "--no-password",
          ...PG_DUMP_MODE_FLAGS[kind],
          `--file=${partial}`,
          `--dbname=${dbname}`,
        ],
        { env },
      );
    } catch (error) {
      if (error instanceof OpsError) throw error;
      throw new OpsError("BACKUP_FAILED", `pg_dump failed: ${(error as Error).message}`, { cause: error });
    }
    await snapshotClient.query("commit");
    await fs.chmod(partial, 0o600);

    const contents = await verifyDumpFile(tools.pgRestore, partial);
    const expectData = kind !== "schema";
    const expectSchema = kind !== "data";
    const tables = Object.keys(rowCounts);
    const missing = tables.filter(
      (table) =>
        (expectSchema && !contents.tables.includes(table)) || (expectData && !contents.tablesWithData.includes(table)),
    );
    if (missing.length > 0) {
      throw new OpsError("VERIFY_FAILED", `The new dump lacks ${missing.length} table(s): ${missing.join(", ")}.`);
    }

    const stats = await fs.stat(partial);
    const manifest: BackupManifest = {
      format: "prospectflow-backup/1",
      database,
      kind,
      createdAt: startedAt.toISOString(),
      serverVersion,
      pgDumpVersion,
      sha256: await sha256Of(partial),
      bytes: stats.size,
      rowCounts: expectData ? rowCounts : Object.fromEntries(tables.map((table) => [table, 0])),
    };
    await fs.rename(partial, file);
    await writeManifest(file, manifest);
    const { removed } = await pruneBackups({
      directory,
      database,
      retentionDays: options.retentionDays,
      now: now(),
      keep: file,
    });
    logger.info({ file, bytes: manifest.bytes, tables: tables.length, pruned: removed.length }, "backup written");
    return { file, manifest, pruned: removed };
  } catch (error) {
    await fs.rm(partial, { force: true });
    throw error;
  } finally {
    await snapshotClient.end().catch(() => {});
  }
}

/** Rows per table (partitions counted on their own, as pg_dump dumps them) outside the system schemas. */
async function countRows(client: pg.Client): Promise<Record<string, number>> {
  const { rows: tables } = await client.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r'
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
        and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
      order by 1, 2`,
  );
  const counts: Record<string, number> = {};
  for (const { schema, name } of tables) {
    const { rows } = await client.query<{ count: string }>(
      `select count(*) as count from ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`,
    );
    counts[`${schema}.${name}`] = Number(rows[0]!.count);
  }
  return counts;
}
