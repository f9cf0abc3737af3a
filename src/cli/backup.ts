// `npm run db:backup -- [full|schema|data]`: one compressed custom-format dump of the database
// into BACKUP_DIR, verified, with a manifest; dumps older than BACKUP_RETENTION_DAYS are pruned.
// `npm run db:backup -- full --daily-at 02:00` keeps running and takes one every day at that
// UTC time (the compose backup service).
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, requireOwnerUrl, type Config } from "../config.ts";
import { redact } from "../db/connection-urls.ts";
import { createLogger, type Logger } from "../logger.ts";
import { BACKUP_MODES, type BackupMode } from "../ops/backup-files.ts";
import { createBackup } from "../ops/backup.ts";
import { runDaily, parseTimeOfDay } from "../ops/daily-schedule.ts";
import { locateTools } from "../ops/postgres-tools.ts";
import { exitAsOpsCommand, UsageError } from "./run-cli.ts";

const usage = `Usage: npm run db:backup -- [full|schema|data] [--daily-at HH:MM]

  full    schema and data (default)
  schema  the schema only
  data    the rows only (restore them into a migrated database with pg_restore --data-only)

Writes BACKUP_DIR/<database>-<mode>-<UTC time>.dump (pg_dump custom format, compressed) and a
.json manifest (checksum, row count per table), checks the dump reads back, then removes dumps
older than BACKUP_RETENTION_DAYS (default 30). Connects as DATABASE_URL (the owner).
With --daily-at, keeps running and takes one backup every day at that UTC time.`;

function parseCommandLine(argv: string[]): { mode: BackupMode; dailyAt: string | undefined } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { "daily-at": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help) throw new UsageError("");
  if (parsed.positionals.length > 1) throw new UsageError(`One mode at most, got: ${parsed.positionals.join(" ")}`);
  const mode = parsed.positionals[0] ?? "full";
  if (!(BACKUP_MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`Unknown backup mode "${mode}": use full, schema or data.`);
  }
  const dailyAt = parsed.values["daily-at"];
  if (dailyAt !== undefined && parseTimeOfDay(dailyAt) === undefined) {
    throw new UsageError(`--daily-at wants a UTC time as HH:MM (00:00 to 23:59), got "${dailyAt}".`);
  }
  return { mode: mode as BackupMode, dailyAt };
}

async function backupOnce(config: Config, ownerUrl: string, mode: BackupMode, logger: Logger): Promise<void> {
  const result = await createBackup({
    databaseUrl: ownerUrl,
    directory: config.backup.directory,
    kind: mode,
    retentionDays: config.backup.retentionDays,
    tools: locateTools(config.backup.pgBinDirectory),
    logger,
  });
  const rows = Object.values(result.manifest.rowCounts).reduce((sum, count) => sum + count, 0);
  process.stdout.write(
    `Backup written: ${result.file}\n` +
      `  ${result.manifest.bytes} bytes, ${Object.keys(result.manifest.rowCounts).length} tables, ${rows} rows, ` +
      `PostgreSQL ${result.manifest.serverVersion}, sha256 ${result.manifest.sha256}\n` +
      `  pruned ${result.pruned.length} dump(s) older than ${config.backup.retentionDays} days\n`,
  );
}

async function main(): Promise<number> {
  const { mode, dailyAt } = parseCommandLine(process.argv.slice(2));
  const config = loadConfig(process.env, "maintenance");
  if (config.database.kind !== "external") {
    throw new ConfigError("db:backup needs DATABASE_URL (the owner) and AUTH_DATABASE_URL of the database to back up.");
  }
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const ownerUrl = requireOwnerUrl(config.database);
  if (dailyAt === undefined) {
    await backupOnce(config, ownerUrl, mode, logger);
    return 0;
  }
  process.stdout.write(
    `Daily ${mode} backups of ${redact(ownerUrl)} at ${dailyAt} UTC into ${config.backup.directory}\n`,
  );
  // `docker compose stop` sends SIGTERM: stop waiting (or let the running backup finish) and exit 0.
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort());
  process.once("SIGINT", () => stop.abort());
  await runDaily(
    parseTimeOfDay(dailyAt)!,
    {
      run: () => backupOnce(config, ownerUrl, mode, logger),
      // A failed night must not stop the schedule: it is reported and tried again tomorrow.
      onError: (error) => process.stderr.write(`Backup failed: ${(error as Error).message}\n`),
      onNext: (at) => process.stdout.write(`Next backup at ${at.toISOString()}\n`),
    },
    stop.signal,
  );
  process.stdout.write("Stopped.\n");
  return 0;
}

exitAsOpsCommand(main, usage, "Backup");
