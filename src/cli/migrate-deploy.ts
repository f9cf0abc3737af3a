// `node src/cli/migrate-deploy.ts`: the one-shot migrate job of a deployment (compose's `migrate`
// service). Creates the roles and the database when ROOT_DATABASE_URL is given, applies the
// committed migrations as the owner (after a verified dump of the database when it already has
// migrations and more are pending: BACKUP_DIR/<database>-pre-migrate-<time>.dump, unless
// BACKUP_BEFORE_MIGRATE=off), lets the authenticator read the migration history (for /readyz),
// then exits: 0 when the database is ready to serve, 1 with a clear message otherwise.
// The API can then run with MIGRATE_ON_START=false and no owner credentials.
import { ConfigError, loadConfig, requireOwnerUrl } from "../config.ts";
import { runCommittedMigrations } from "../db/migrations.ts";
import { allowAuthenticatorToReadMigrationHistory, prepareRolesAndDatabase } from "../db/prepare-database.ts";
import { redact } from "../db/connection-urls.ts";
import { createLogger } from "../logger.ts";
import { databaseStepFailed, DatabaseUnavailableError } from "../ops/database-failures.ts";
import { OpsError } from "../ops/ops-error.ts";
import { locateTools } from "../ops/postgres-tools.ts";
import { backupBeforeMigrating } from "../ops/pre-migrate-backup.ts";

async function main(): Promise<number> {
  const config = loadConfig(process.env, "maintenance");
  if (config.database.kind !== "external") {
    throw new ConfigError(
      "migrate-deploy needs DATABASE_URL and AUTH_DATABASE_URL (and ROOT_DATABASE_URL to create them).",
    );
  }
  const logger = createLogger(config.logLevel);
  const { rootUrl, authenticatorUrl, shadowUrl } = config.database;
  const urls = { rootUrl, ownerUrl: requireOwnerUrl(config.database), authenticatorUrl, shadowUrl };
  if (rootUrl !== undefined) {
    await prepareRolesAndDatabase({ ...urls, rootUrl }, logger).catch((error: unknown) => {
      throw databaseStepFailed("create the roles and the database (ROOT_DATABASE_URL)", rootUrl, error);
    });
  }
  if (config.backup.beforeMigrate) {
    const dump = await backupBeforeMigrating({
      urls,
      directory: config.backup.directory,
      retentionDays: config.backup.retentionDays,
      tools: locateTools(config.backup.pgBinDirectory),
      logger,
    });
    if (dump !== undefined) logger.info({ file: dump.file }, "dumped the database before migrating");
  }
  await runCommittedMigrations(urls, logger).catch((error: unknown) => {
    throw databaseStepFailed("apply the migrations (DATABASE_URL)", urls.ownerUrl, error);
  });
  await allowAuthenticatorToReadMigrationHistory(urls).catch((error: unknown) => {
    throw databaseStepFailed("grant the authenticator read access to the migration history", urls.ownerUrl, error);
  });
  logger.info({ database: redact(urls.ownerUrl) }, "migrations applied; the database is ready to serve");
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const known =
      error instanceof ConfigError || error instanceof DatabaseUnavailableError || error instanceof OpsError;
    process.stderr.write(
      known ? `${(error as Error).message}\n` : `migrate-deploy failed: ${(error as Error).message}\n`,
    );
    process.exit(1);
  },
);
