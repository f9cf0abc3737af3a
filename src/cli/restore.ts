// `npm run db:restore -- <file>`: replaces the configured database with a dump written by
// `npm run db:backup`, after verifying the file and taking a safety dump of the current database.
// Needs ROOT_DATABASE_URL (a superuser), DATABASE_URL and AUTH_DATABASE_URL. Refuses a database
// that is in use: stop the API (and PgBouncer) first.
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, requireOwnerUrl } from "../config.ts";
import { createLogger } from "../logger.ts";
import { locateTools } from "../ops/postgres-tools.ts";
import { restoreBackup } from "../ops/restore.ts";
import { exitAsOpsCommand, UsageError } from "./run-cli.ts";

const usage = `Usage: npm run db:restore -- <file.dump>

Restores a dump written by npm run db:backup over the database of DATABASE_URL:
  1. checks the file (custom format, checksum from its .json manifest, every block readable);
  2. refuses if anything is connected to the database (stop the API and PgBouncer first);
  3. dumps the current database to BACKUP_DIR (<database>-pre-restore-<time>.dump);
  4. recreates missing roles, loads the dump into a scratch database, compares row counts
     with the manifest, then swaps it in. Any failure leaves the current database untouched.
Needs ROOT_DATABASE_URL (superuser), DATABASE_URL and AUTH_DATABASE_URL.`;

function parseCommandLine(argv: string[]): string {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: "boolean", short: "h" } } });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help) throw new UsageError("");
  if (parsed.positionals.length !== 1) throw new UsageError("Name exactly one dump file to restore.");
  return parsed.positionals[0]!;
}

async function main(): Promise<number> {
  const file = parseCommandLine(process.argv.slice(2));
  const config = loadConfig(process.env, "maintenance");
  if (config.database.kind !== "external" || config.database.rootUrl === undefined) {
    throw new ConfigError(
      "db:restore needs ROOT_DATABASE_URL (a superuser: it creates and renames databases), DATABASE_URL and AUTH_DATABASE_URL.",
    );
  }
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const { rootUrl, authenticatorUrl, shadowUrl } = config.database;
  const ownerUrl = requireOwnerUrl(config.database);
  const result = await restoreBackup({
    file,
    urls: { rootUrl, ownerUrl, authenticatorUrl, shadowUrl },
    backupDirectory: config.backup.directory,
    retentionDays: config.backup.retentionDays,
    tools: locateTools(config.backup.pgBinDirectory),
    logger,
  });
  const rows = Object.values(result.rowCounts).reduce((sum, count) => sum + count, 0);
  process.stdout.write(
    `Restored ${file} into ${result.database}: ${Object.keys(result.rowCounts).length} tables, ${rows} rows` +
      (result.checkedAgainstManifest
        ? ", row counts match the backup's manifest"
        : " (no manifest: row counts not compared)") +
      ".\n" +
      (result.safetyBackup
        ? `The database as it was before: ${result.safetyBackup}\n`
        : "There was no database to keep a copy of.\n"),
  );
  return 0;
}

exitAsOpsCommand(main, usage, "Restore");
