// `npm run migrate -- <graphile-migrate command>`: graphile-migrate against this project's
// database (the embedded one is started or reused), e.g. `npm run migrate -- commit -m "add tasks"`.
// `npm run migrate -- rollback` is ours: it reverts the latest applied committed migration with
// its script in migrations/revert/ (see src/db/rollback.ts); `npm run migrate -- migrate` re-applies it.
import { loadConfig } from "../config.ts";
import { connectDatabase } from "../db/bootstrap.ts";
import { spawnGraphileMigrate } from "../db/graphile-migrate-cli.ts";
import { prepareRolesAndDatabase } from "../db/prepare-database.ts";
import { rollbackLatestMigration, RollbackRefused } from "../db/rollback.ts";
import { createLogger } from "../logger.ts";
import { CommandError, exitWith } from "./run-cli.ts";

const ROLLBACK_USAGE = `Usage: npm run migrate -- rollback [--dry-run]

Reverts the latest applied committed migration (say 000005.sql) with migrations/revert/000005.sql,
in one transaction, and removes it from graphile_migrate.migrations (recorded in
graphile_migrate.rollbacks). Run it again to revert the one before. \`npm run migrate -- migrate\`
applies it again. Stop the API first (or deploy the previous version): see docs/OPERATIONS.md.

  --dry-run  run the revert and roll it back: checks that it applies to this database, changes nothing`;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const rollback = args[0] === "rollback";
  const dryRun = rollback && args[1] === "--dry-run";
  if (rollback && args.length > (dryRun ? 2 : 1)) {
    const help = args.includes("--help") || args.includes("-h");
    process[help ? "stdout" : "stderr"].write(`${ROLLBACK_USAGE}\n`);
    return help ? 0 : 2;
  }
  // A maintenance tool: in a production container (NODE_ENV=production) it needs no JWT secret.
  const config = loadConfig(process.env, "maintenance");
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const database = await connectDatabase(config, logger);
  try {
    const { urls } = database;
    if (urls.rootUrl !== undefined) await prepareRolesAndDatabase({ ...urls, rootUrl: urls.rootUrl }, logger);
    if (rollback) {
      const result = await rollbackLatestMigration(urls, logger, { dryRun }).catch((error: unknown) => {
        throw error instanceof RollbackRefused ? new CommandError(error.message) : error;
      });
      process.stdout.write(
        result.dryRun
          ? `Dry run: ${result.script} reverts ${result.filename} (${result.hash}) on this database; nothing was changed.\n`
          : `Rolled back ${result.filename} (${result.hash}) with ${result.script}; ` +
              `\`npm run migrate -- migrate\` applies it again.\n`,
      );
      return 0;
    }
    const child = spawnGraphileMigrate(args, urls);
    return await new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
  } finally {
    await database.stop();
  }
}

exitWith(main);
