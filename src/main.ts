// Entry point of `npm start`: start everything, print where to go, stop cleanly on Ctrl-C / SIGTERM.
import { loadConfig } from "./config.ts";
import { createLogger, routeConsoleToLogger, type Logger } from "./logger.ts";
import { printWelcome, reportStartupFailure, stopOnSignals } from "./process-lifecycle.ts";
import { startServer } from "./server.ts";

async function main(): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = loadConfig(process.env);
    logger = createLogger(config.logLevel);
    routeConsoleToLogger(logger);
    const server = await startServer(config, logger, { watchSchema: false });
    stopOnSignals(() => server.close(), logger);
    printWelcome(server, config, logger);
  } catch (error) {
    reportStartupFailure(error, logger);
  }
}

await main();
