// Composes the running server: database ready, GraphQL schema built, HTTP listening.
// Entry points (main.ts, dev.ts) decide the mode and handle signals.
import type { Server } from "node:http";
import pg from "pg";
import { postgraphile, type PostGraphileInstance } from "postgraphile";
import { resolveJwtSecret } from "./auth/jwt-secret.ts";
import type { Config } from "./config.ts";
import { databaseNameOf, withDatabase } from "./db/connection-urls.ts";
import { connectDatabase, prepareDatabase, type Database } from "./db/bootstrap.ts";
import { loadDemoDataIfEmpty } from "./db/demo-data.ts";
import { assertServingRoleIsSafe } from "./db/serving-role-check.ts";
import { createPreset } from "./graphql/preset.ts";
import { createHttpServer } from "./http/app.ts";
import type { Logger } from "./logger.ts";

export interface RunningServer {
  url: string;
  database: Database;
  /** Stops accepting, lets in-flight requests finish, closes the pool, stops the embedded database. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Rebuild the GraphQL schema when the database changes (development). */
  watchSchema: boolean;
}

export async function startServer(config: Config, logger: Logger, options: StartOptions): Promise<RunningServer> {
  const database = await connectDatabase(config, logger);
  let pool: pg.Pool | undefined;
  let pgl: PostGraphileInstance | undefined;
  try {
    await prepareDatabase(database.urls, logger);
    if (config.loadDemoData) await loadDemoDataIfEmpty(database.urls.ownerUrl, logger);
    await assertServingRoleIsSafe(database.urls.authenticatorUrl);
    const jwtSecret = await resolveJwtSecret(config, logger);

    pool = new pg.Pool({
      connectionString: database.urls.authenticatorUrl,
      max: config.pool.max,
      connectionTimeoutMillis: config.pool.connectionTimeoutMs,
      idleTimeoutMillis: config.pool.idleTimeoutMs,
    });
    pool.on("error", (error) => logger.warn({ err: error }, "idle database connection failed"));

    if (options.watchSchema && database.urls.rootUrl === undefined) {
      logger.warn("schema watch needs ROOT_DATABASE_URL (a superuser installs the watch fixtures); watching disabled");
    }
    const watch =
      options.watchSchema && database.urls.rootUrl !== undefined
        ? { superuserUrl: withDatabase(database.urls.rootUrl, databaseNameOf(database.urls.ownerUrl)) }
        : undefined;
    pgl = postgraphile(
      createPreset({
        authenticatorPool: pool,
        watch,
        graphiql: config.graphiql,
        statementTimeoutMs: config.pool.statementTimeoutMs,
      }),
    );
    // Build the schema now, so a broken schema fails start-up instead of the first request.
    await pgl.getSchema();
    const server = await createHttpServer({ pgl, authenticatorPool: pool, jwtSecret, logger });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const url = `http://${config.host === "0.0.0.0" || config.host === "127.0.0.1" ? "localhost" : config.host}:${port}`;

    const ownedPool = pool;
    const ownedPgl = pgl;
    let closing: Promise<void> | undefined;
    return {
      url,
      database,
      close() {
        closing ??= (async () => {
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
            // In-flight requests get a bounded time to finish.
            setTimeout(() => {
              server.closeAllConnections();
              resolve();
            }, 10_000).unref();
          });
          await ownedPgl.release();
          await ownedPool.end();
          await database.stop();
        })();
        return closing;
      },
    };
  } catch (error) {
    await Promise.resolve(pgl?.release()).catch(() => {});
    await pool?.end().catch(() => {});
    await database.stop().catch(() => {});
    throw error;
  }
}
