// The migrate job's safety net: before it applies pending migrations to a database that already
// has some, a full dump (BACKUP_DIR/<database>-pre-migrate-<time>.dump, verified, with its
// manifest). If the new migration must be undone and its revert script cannot (or data it
// transformed must come back), that dump is the state just before the deploy. A fresh database
// (no migration applied yet) has nothing to save; no pending migration means no dump either.
import pg from "pg";
import type { DatabaseUrls } from "../db/connection-urls.ts";
import { pendingMigrations } from "../db/migrations.ts";
import type { Logger } from "../logger.ts";
import { createBackup, type BackupResult } from "./backup.ts";
import { OpsError } from "./ops-error.ts";
import type { PostgresTools } from "./postgres-tools.ts";

export interface PreMigrateBackupOptions {
  urls: DatabaseUrls;
  directory: string;
  retentionDays: number;
  tools: PostgresTools;
  logger: Logger;
}

/** How many migrations the database has applied (0 when graphile-migrate never ran on it). */
async function appliedMigrationCount(ownerUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: number | null }>(
      `select case when to_regclass('graphile_migrate.migrations') is not null
                   then (select count(*)::int from graphile_migrate.migrations) end as count`,
    );
    return rows[0]?.count ?? 0;
  } finally {
    await client.end();
  }
}

/** Dumps the database when migrations are pending on a database that has some; returns undefined otherwise. */
export async function backupBeforeMigrating(options: PreMigrateBackupOptions): Promise<BackupResult | undefined> {
  const { urls, logger } = options;
  const pending = await pendingMigrations(urls, logger);
  if (pending.length === 0) return undefined;
  if ((await appliedMigrationCount(urls.ownerUrl)) === 0) return undefined;
  logger.info({ pending }, "dumping the database before applying the pending migrations");
  try {
    return await createBackup({
      databaseUrl: urls.ownerUrl,
      directory: options.directory,
      kind: "pre-migrate",
      retentionDays: options.retentionDays,
      tools: options.tools,
      logger,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new OpsError(
      error instanceof OpsError ? error.code : "BACKUP_FAILED",
      `The dump before migrating (${pending.join(", ")}) failed, so nothing was migrated: ${reason} ` +
        "Fix it, or set BACKUP_BEFORE_MIGRATE=off to migrate without that dump.",
      { cause: error },
    );
  }
}
