// The mailer on its own: `node src/mail/mailer.ts` (the compose `mailer` service). It sends the
// outbox of the database named by AUTH_DATABASE_URL, the same way the server's in-process mailer
// does; several may run at once (they never take one message twice). SIGTERM/SIGINT finish the
// message being sent, then exit.
import pg from "pg";
import { ConfigError, loadConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { startMailWorker } from "./mail-service.ts";

async function main(): Promise<void> {
  const config = loadConfig(process.env, "mail");
  const logger = createLogger(config.logLevel);
  if (config.database.kind !== "external") {
    throw new ConfigError(
      "The standalone mailer needs AUTH_DATABASE_URL (the serving role of the database to send from). " +
        "With the embedded database, `npm start` runs the mailer inside the server.",
    );
  }
  const pool = new pg.Pool({
    connectionString: config.database.authenticatorUrl,
    application_name: "prospectflow-mailer",
    max: 2,
    connectionTimeoutMillis: config.pool.connectionTimeoutMs,
  });
  pool.on("error", (error) => logger.warn({ err: error }, "idle database connection failed"));
  const worker = startMailWorker(config, pool, logger);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await worker?.stop();
    await pool.end();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
  // Without SMTP_URL in production there is nothing to do, but exiting would only make compose restart it.
  if (worker === undefined) setInterval(() => {}, 2 ** 30);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
