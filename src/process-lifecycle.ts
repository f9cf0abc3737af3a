// What every entry point shares: the welcome text, signal handling and start-up failure reporting.
import { ConfigError, type Config } from "./config.ts";
import type { Logger } from "./logger.ts";
import { DatabaseUnavailableError } from "./ops/database-failures.ts";
import type { RunningServer } from "./server.ts";

export function printWelcome(server: RunningServer, config: Config, logger?: Logger): void {
  // Production's stdout holds JSON log lines only: the welcome is one of them.
  if (config.isProduction && logger) {
    logger.info({ graphql: `${server.url}/graphql` }, "ready");
    return;
  }
  const lines = [
    "",
    `  ProspectFlow API is ready.`,
    `  GraphQL:  ${server.url}/graphql`,
    ...(config.graphiql ? [`  GraphiQL: ${server.url}/graphiql`] : []),
    `  Token:    run Login in GraphiQL, or  npm run token -- --email maya@acme.test --org acme`,
    `  Header:   ${JSON.stringify({ Authorization: "Bearer <token>" })}   (paste into GraphiQL's Headers pane)`,
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** Stops the server once on SIGINT/SIGTERM and exits 0 (1 if stopping failed). */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

export function reportStartupFailure(error: unknown, logger: Logger | undefined): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else if (error instanceof DatabaseUnavailableError) {
    // Written for the operator already: which step, which database, what to check.
    logger?.fatal({ cause: String(error.cause) }, "start-up failed: database unavailable");
    process.stderr.write(`\nStart-up failed: ${error.message}\n`);
  } else if (logger) {
    logger.fatal({ err: error }, "start-up failed");
    process.stderr.write(`\nStart-up failed: ${(error as Error).message}\n`);
  } else {
    process.stderr.write(`Start-up failed: ${(error as Error).message}\n`);
  }
  process.exit(1);
}
