// Entry point of `npm run dev`: the server with PostGraphile's schema watch, plus
// `graphile-migrate watch` re-running migrations/current.sql on every save.
import { loadConfig, requireOwnerUrl } from "./config.ts";
import { spawnGraphileMigrate } from "./db/graphile-migrate-cli.ts";
import { createLogger, routeConsoleToLogger, type Logger } from "./logger.ts";
import { printWelcome, reportStartupFailure, stopOnSignals } from "./process-lifecycle.ts";
import { startServer } from "./server.ts";

async function dev(): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = loadConfig(process.env);
    logger = createLogger(config.logLevel);
    routeConsoleToLogger(logger);
    const server = await startServer(config, logger, { watchSchema: true });
    const urls = server.database.urls;
    const migrateWatch = spawnGraphileMigrate(["watch"], { ...urls, ownerUrl: requireOwnerUrl(urls) });
    const childExited = new Promise<void>((resolve) => migrateWatch.once("exit", () => resolve()));
    stopOnSignals(async () => {
      migrateWatch.kill("SIGTERM");
      await childExited;
      await server.close();
    }, logger);
    printWelcome(server, config, logger);
    process.stdout.write("  Watching migrations/current/*.sql: save a file and GraphiQL picks up the change.\n\n");
  } catch (error) {
    reportStartupFailure(error, logger);
  }
}

await dev();
