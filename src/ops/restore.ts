// Restores a dump over the configured database, safely: the file is verified first (header,
// checksum against its manifest, every data block readable); a database in use is refused; a
// safety dump of the current database is taken; missing roles are recreated; the dump is loaded
// into a scratch database and its row counts checked against the manifest; only then is the
// scratch database renamed into place. A failure at any step leaves the current database as it was.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { databaseNameOf, userNameOf, withDatabase, type DatabaseUrls } from "../db/connection-urls.ts";
import { prepareRolesAndDatabase } from "../db/prepare-database.ts";
import type { Logger } from "../logger.ts";
import { createBackup } from "./backup.ts";
import { readManifest, sha256Of, verifyDumpFile, type BackupManifest } from "./backup-files.ts";
import { databaseStepFailed } from "./database-failures.ts";
import { OpsError } from "./ops-error.ts";
import { connectionArguments, runTool, type PostgresTools } from "./postgres-tools.ts";

export interface RestoreOptions {
  file: string;
  /** rootUrl: a superuser (drops and creates databases); owner and authenticator name the roles. */
  urls: DatabaseUrls & { rootUrl: string };
  /** Where the safety dump of the current database goes. */
  backupDirectory: string;
  retentionDays: number;
  tools: PostgresTools;
  logger: Logger;
}

export interface RestoreResult {
  database: string;
  /** The dump of the database as it was before the restore; undefined when it did not exist. */
  safetyBackup: string | undefined;
  rowCounts: Record<string, number>;
  /** False when the dump had no manifest: tables were checked, row counts could not be. */
  checkedAgainstManifest: boolean;
}

const OBJECT_IN_USE = "55006";

export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const { file, urls, tools, logger } = options;
  const contents = await verifyDumpFile(tools.pgRestore, file);
  const manifest = await readManifest(file);
  if (manifest !== undefined && manifest.sha256 !== (await sha256Of(file))) {
    throw new OpsError(
      "DUMP_DAMAGED",
      `${file} does not match the checksum in its manifest: it was changed or damaged.`,
    );
  }
  if (contents.tables.length === 0 && contents.tablesWithData.length > 0) {
    throw new OpsError(
      "DATA_ONLY_DUMP",
      `${file} is a data-only dump: it cannot recreate the database on its own. Restore a full dump, or load it ` +
        "into a migrated database with pg_restore --data-only (see docs/OPERATIONS.md).",
    );
  }
  if (manifest === undefined) logger.warn({ file }, "no manifest next to the dump: row counts cannot be verified");

  const database = databaseNameOf(urls.ownerUrl);
  const root = new pg.Client({ connectionString: urls.rootUrl, connectionTimeoutMillis: 10_000 });
  try {
    await root.connect();
  } catch (error) {
    throw databaseStepFailed("connect as the superuser (ROOT_DATABASE_URL)", urls.rootUrl, error);
  }
  const id = (name: string) => root.escapeIdentifier(name);
  const scratch = `${database.slice(0, 40)}_restoring_${randomBytes(4).toString("hex")}`;
  let scratchCreated = false;
  try {
    const exists = (await root.query("select 1 from pg_database where datname = $1", [database])).rowCount === 1;
    if (exists) await assertNotInUse(root, database);
    const safetyBackup = exists
      ? (
          await createBackup({
            databaseUrl: urls.ownerUrl,
            directory: options.backupDirectory,
            kind: "pre-restore",
            retentionDays: options.retentionDays,
            tools,
            logger,
          })
        ).file
      : undefined;
    if (safetyBackup) logger.info({ safetyBackup }, "safety dump of the current database written");

    // The dump grants to and is owned by these roles: they must exist before it loads.
    await prepareRolesAndDatabase(urls, logger);
    await root.query(`create database ${id(scratch)} owner ${id(userNameOf(urls.ownerUrl))}`);
    scratchCreated = true;

    const { dbname, env } = connectionArguments(withDatabase(urls.rootUrl, scratch));
    try {
      await runTool(
        tools.pgRestore,
        ["--exit-on-error", "--single-transaction", "--no-password", `--dbname=${dbname}`, file],
        { env },
      );
    } catch (error) {
      if (error instanceof OpsError) throw error;
      throw new OpsError(
        "RESTORE_FAILED",
        `pg_restore failed (${database} is unchanged): ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const rowCounts = await verifyRestoredDatabase(withDatabase(urls.rootUrl, scratch), contents.tables, manifest);

    await assertNotInUse(root, database);
    const replaced = `${database.slice(0, 40)}_replaced_${randomBytes(4).toString("hex")}`;
    try {
      // prepareRolesAndDatabase above created the database if it was missing: it exists now.
      await root.query(`alter database ${id(database)} rename to ${id(replaced)}`);
      await root.query(`alter database ${id(scratch)} rename to ${id(database)}`);
      scratchCreated = false;
    } catch (error) {
      if ((error as { code?: string }).code === OBJECT_IN_USE)
        throw inUse(database, "a client connected during the restore");
      throw error;
    }
    await root.query(`drop database if exists ${id(replaced)} with (force)`);
    // Database-level grants (connect) are not part of a dump: apply them to the new database.
    await prepareRolesAndDatabase(urls, logger);
    logger.info({ database, file, tables: Object.keys(rowCounts).length }, "restore complete and verified");
    return { database, safetyBackup, rowCounts, checkedAgainstManifest: manifest !== undefined };
  } finally {
    if (scratchCreated) await root.query(`drop database if exists ${id(scratch)} with (force)`).catch(() => {});
    await root.end().catch(() => {});
  }
}

/** Sessions on the database other than ours: the API's pool, PgBouncer's server connections, psql… */
async function assertNotInUse(root: pg.Client, database: string): Promise<void> {
  const { rows } = await root.query<{ who: string; sessions: string }>(
    `select coalesce(nullif(application_name, ''), usename::text, 'unknown') as who, count(*) as sessions
       from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()
      group by 1 order by 1`,
    [database],
  );
  if (rows.length > 0) {
    throw inUse(database, rows.map((row) => `${row.sessions} × ${row.who}`).join(", "));
  }
}

function inUse(database: string, who: string): OpsError {
  return new OpsError(
    "DATABASE_IN_USE",
    `Database ${database} is in use (${who}). Stop what uses it first (docker compose stop api pgbouncer), then restore again.`,
  );
}

/** Every table of the dump exists, and each holds the rows the manifest recorded. */
async function verifyRestoredDatabase(
  url: string,
  tables: string[],
  manifest: BackupManifest | undefined,
): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("set row_security = off");
    const counts: Record<string, number> = {};
    const problems: string[] = [];
    const expected = manifest ? Object.keys(manifest.rowCounts) : tables;
    for (const table of new Set([...tables, ...expected])) {
      const [schema, name] = table.split(".") as [string, string];
      const found = await client.query(
        "select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2",
        [schema, name],
      );
      if (found.rowCount === 0) {
        problems.push(`${table} is missing`);
        continue;
      }
      const { rows } = await client.query<{ count: string }>(
        `select count(*) as count from ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`,
      );
      counts[table] = Number(rows[0]!.count);
      const wanted = manifest?.rowCounts[table];
      if (wanted !== undefined && wanted !== counts[table])
        problems.push(`${table} has ${counts[table]} rows, the backup had ${wanted}`);
    }
    if (problems.length > 0) {
      throw new OpsError(
        "VERIFY_FAILED",
        `The restored copy does not match the backup (${problems.join("; ")}); nothing was replaced.`,
      );
    }
    return counts;
  } finally {
    await client.end();
  }
}
