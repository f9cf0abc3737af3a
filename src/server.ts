// Composes the running server: database ready, GraphQL schema built, HTTP listening.
// Entry points (main.ts, dev.ts) decide the mode and handle signals.
import type { Server } from "node:http";
import pg from "pg";
import { postgraphile, type PostGraphileInstance } from "postgraphile";
import { resolveJwtSecret } from "./auth/jwt-secret.ts";
import { requireOwnerUrl, type Config } from "./config.ts";
import { connectDatabase } from "./db/bootstrap.ts";
import { databaseNameOf, withDatabase, type DatabaseUrls } from "./db/connection-urls.ts";
import { loadDemoDataIfEmpty } from "./db/demo-data.ts";
import { migrationsFolder, runCommittedMigrations } from "./db/migrations.ts";
import { createReadRouter } from "./db/replicas/read-routing.ts";
import { ReplicaSet } from "./db/replicas/replica-set.ts";
import { allowAuthenticatorToReadMigrationHistory, prepareRolesAndDatabase } from "./db/prepare-database.ts";
import { assertServingRoleIsSafe } from "./db/serving-role-check.ts";
import { loadDocumentStore } from "./documents/document-store.ts";
import { createPreset } from "./graphql/preset.ts";
import { createHttpServer } from "./http/app.ts";
import type { Logger } from "./logger.ts";
import { createMetricsPlugin } from "./metrics/graphql-plugin.ts";
import { startMetricsServer } from "./metrics/http.ts";
import { createMetrics } from "./metrics/metrics.ts";
import { startMailWorker } from "./mail/mail-service.ts";
import type { MailWorker } from "./mail/outbox-worker.ts";
import { readCommittedMigrations, type CommittedMigration } from "./ops/committed-migrations.ts";
import { DatabaseUnavailableError, databaseStepFailed } from "./ops/database-failures.ts";
import { checkReadiness } from "./ops/readiness.ts";
import { createThrottling } from "./throttling/throttling.ts";

/** The server's database URLs: without an owner URL when it only serves (MIGRATE_ON_START=false). */
export type ServingUrls = Omit<DatabaseUrls, "ownerUrl"> & { ownerUrl: string | undefined };

export interface RunningServer {
  url: string;
  /** The separate metrics listener's URL (METRICS_PORT), when there is one. */
  metricsUrl: string | undefined;
  database: { urls: ServingUrls; stop(): Promise<void> };
  /** The read replicas (READ_DATABASE_URL) and their monitor; replicaStatus() feeds /readyz and metrics. */
  replicas: ReplicaSet | undefined;
  /** Stops accepting, lets in-flight requests finish (bounded), closes the pool, stops the embedded database. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Rebuild the GraphQL schema when the database changes (development). */
  watchSchema: boolean;
}

/** Shows up in pg_stat_activity (and PgBouncer's SHOW CLIENTS) for every connection of the pool. */
export const APPLICATION_NAME = "prospectflow-api";

export async function startServer(config: Config, logger: Logger, options: StartOptions): Promise<RunningServer> {
  // An external database is used as configured; only the embedded one needs starting. (A
  // serving-only configuration has no owner URL, so it must not go through connectDatabase.)
  const database: RunningServer["database"] =
    config.database.kind === "external"
      ? { urls: config.database, stop: async () => {} }
      : await connectDatabase(config, logger);
  let pool: pg.Pool | undefined;
  let replicas: ReplicaSet | undefined;
  let pgl: PostGraphileInstance | undefined;
  let metricsServer: Server | undefined;
  let mailer: MailWorker | undefined;
  try {
    const committed = readCommittedMigrations(migrationsFolder);
    await withinStartupDeadline(config.startupTimeoutMs, (step) =>
      prepareForServing(config, database.urls, committed, logger, step),
    );
    const jwtSecret = await resolveJwtSecret(config, logger);

    pool = new pg.Pool({
      connectionString: database.urls.authenticatorUrl,
      application_name: APPLICATION_NAME,
      max: config.pool.max,
      connectionTimeoutMillis: config.pool.connectionTimeoutMs,
      idleTimeoutMillis: config.pool.idleTimeoutMs,
    });
    // A dropped idle connection (the database restarted) is removed from the pool; the next
    // request opens a new one, so the server recovers without a restart.
    pool.on("error", (error) => logger.warn({ err: error }, "idle database connection failed"));
    // A connection lost while a request holds it emits 'error' on that client, which the pool
    // does not listen to: unhandled, it would crash the process. The request itself fails with
    // SERVICE_UNAVAILABLE and the dead client is discarded on release.
    pool.on("connect", (client) => {
      client.on("error", (error) => logger.warn({ err: error }, "database connection lost during a request"));
    });

    // Read replicas: their pools and monitor. An unreachable replica does not stop start-up; it
    // is skipped (queries go to the primary) and reported by /readyz until it answers.
    if (config.readReplicas.urls.length > 0) {
      replicas = new ReplicaSet({
        ...config.readReplicas,
        pool: config.pool,
        applicationName: APPLICATION_NAME,
        primaryPool: pool,
        logger,
      });
      await replicas.start();
    }
    const readRouter = replicas && createReadRouter({ replicaSet: replicas, primaryPool: pool, logger });

    if (options.watchSchema && database.urls.rootUrl === undefined) {
      logger.warn("schema watch needs ROOT_DATABASE_URL (a superuser installs the watch fixtures); watching disabled");
    }
    const watch =
      options.watchSchema && database.urls.rootUrl !== undefined
        ? { superuserUrl: withDatabase(database.urls.rootUrl, databaseNameOf(database.urls.authenticatorUrl)) }
        : undefined;
    const throttling = await createThrottling(pool, config.throttling, logger, { isProduction: config.isProduction });
    const metrics = createMetrics();
    metrics.observePool("primary", pool);
    pgl = postgraphile({
      extends: [
        createPreset({
          authenticatorPool: pool,
          watch,
          graphiql: config.graphiql,
          statementTimeoutMs: config.pool.statementTimeoutMs,
          tokens: { jwtSecret, lifetimeSeconds: config.jwtLifetimeSeconds },
          logger,
          extraPlugins: [throttling.plugin],
          readRouter,
          guards: {
            limits: config.limits,
            documents: { enforce: config.documents.enforce, store: loadDocumentStore(config.documents.directories) },
            logger,
          },
        }),
      ],
      plugins: [createMetricsPlugin(metrics)],
    });
    // Build the schema now, so a broken schema fails start-up instead of the first request.
    await pgl.getSchema();
    const server = await createHttpServer({
      pgl,
      authenticatorPool: pool,
      tokens: { jwtSecret, lifetimeSeconds: config.jwtLifetimeSeconds },
      edge: {
        trustProxy: config.trustProxy,
        corsOrigins: config.corsOrigins,
        graphiql: config.graphiql,
        beforeGraphql: [throttling.middleware],
      },
      logger,
      readiness: { pool, committed, logger, replicas },
      metrics: { metrics, servedHere: config.metrics.exposure === "main-port", token: config.metrics.token },
      pixelStatementTimeoutMs: config.pixel.statementTimeoutMs,
    });
    let metricsUrl: string | undefined;
    if (config.metrics.exposure === "metrics-port") {
      const started = await startMetricsServer(metrics, {
        host: config.metrics.host,
        port: config.metrics.port ?? 0,
        token: config.metrics.token,
      });
      metricsServer = started.server;
      metricsUrl = started.url;
      logger.info({ url: `${metricsUrl}/metrics` }, "metrics listener started (METRICS_PORT)");
    }
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => resolve());
    });
    // The outbox mailer (MAILER=in-process, the default outside tests); MAILER=off leaves it to `node src/mail/mailer.ts`.
    if (config.mail.inProcess) mailer = startMailWorker(config, pool, logger);
    const ownedMailer = mailer;
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const url = `http://${config.host === "0.0.0.0" || config.host === "127.0.0.1" ? "localhost" : config.host}:${port}`;

    const ownedPool = pool;
    const ownedReplicas = replicas;
    const ownedPgl = pgl;
    const ownedMetricsServer = metricsServer;
    let closing: Promise<void> | undefined;
    return {
      url,
      metricsUrl,
      database,
      replicas,
      close() {
        closing ??= (async () => {
          await Promise.all([
            drainHttp(server, config.shutdownTimeoutMs, logger),
            ownedMetricsServer && drainHttp(ownedMetricsServer, config.shutdownTimeoutMs, logger),
          ]);
          await ownedMailer?.stop();
          await ownedPgl.release();
          // PostGraphile never releases the pg services it was given: in watch mode the
          // subscriber's LISTEN connection stays checked out of our pool, and pool.end() below
          // would wait the whole statement timeout for it (`npm run dev` took 15 s to stop).
          for (const service of ownedPgl.getResolvedPreset().pgServices ?? []) await service.release?.();
          // Requests cut off by the drain deadline may still hold a connection until their
          // statement ends; the pool is given that long at most.
          await ownedReplicas?.stop();
          await settleWithin(Promise.all([ownedPool.end(), ownedReplicas?.end()]), config.pool.statementTimeoutMs, () =>
            logger.warn("database connections still busy after the statement timeout; exiting anyway"),
          );
          await database.stop();
        })();
        return closing;
      },
    };
  } catch (error) {
    metricsServer?.close();
    await mailer?.stop().catch(() => {});
    await Promise.resolve(pgl?.release()).catch(() => {});
    await replicas?.stop().catch(() => {});
    await replicas?.end().catch(() => {});
    await pool?.end().catch(() => {});
    await database.stop().catch(() => {});
    throw error;
  }
}

type StepRunner = <T>(step: string, url: string, work: () => Promise<T>) => Promise<T>;

/**
 * Everything start-up does with the database before serving: roles, database and migrations
 * (unless a migrate job does them), demo data, the serving-role check, and, when this server
 * does not migrate, a refusal to serve a database that lacks committed migrations.
 */
async function prepareForServing(
  config: Config,
  servingUrls: ServingUrls,
  committed: CommittedMigration[],
  logger: Logger,
  step: StepRunner,
): Promise<void> {
  const urls = servingUrls;
  if (config.migrateOnStart) {
    const ownerUrls = { ...urls, ownerUrl: requireOwnerUrl(urls) };
    const rootUrl = urls.rootUrl;
    if (rootUrl !== undefined) {
      await step("create the roles and the database (ROOT_DATABASE_URL)", rootUrl, () =>
        prepareRolesAndDatabase({ ...ownerUrls, rootUrl }, logger),
      );
    }
    await step("apply the migrations (DATABASE_URL)", ownerUrls.ownerUrl, async () => {
      await runCommittedMigrations(ownerUrls, logger);
      await allowAuthenticatorToReadMigrationHistory(ownerUrls);
    });
  }
  if (config.loadDemoData) {
    const ownerUrl = requireOwnerUrl(urls);
    await step("load the demo data (DATABASE_URL)", ownerUrl, () => loadDemoDataIfEmpty(ownerUrl, logger));
  }
  await step("check the serving role (AUTH_DATABASE_URL)", urls.authenticatorUrl, () =>
    assertServingRoleIsSafe(urls.authenticatorUrl),
  );
  if (!config.migrateOnStart) {
    const report = await step("read the migration history (AUTH_DATABASE_URL)", urls.authenticatorUrl, async () => {
      const probe = new pg.Pool({ connectionString: urls.authenticatorUrl, max: 1 });
      try {
        return await checkReadiness({ pool: probe, committed, logger });
      } finally {
        await probe.end();
      }
    });
    if (report.status !== "ready") {
      throw new DatabaseUnavailableError(
        `MIGRATE_ON_START=false and the database is not ready to serve: ${report.reason}` +
          (report.pending ? ` (${report.pending.join(", ")})` : "") +
          ". Run the migrations first (the compose `migrate` service: node src/cli/migrate-deploy.ts).",
      );
    }
  }
}

/**
 * Runs start-up's database work under one deadline: a host that accepts connections but never
 * answers would otherwise hang start-up forever (pg clients have no connect timeout by default).
 */
async function withinStartupDeadline(timeoutMs: number, work: (step: StepRunner) => Promise<void>): Promise<void> {
  let current = { step: "connect to the database", url: "" };
  const step: StepRunner = async (name, url, run) => {
    current = { step: name, url };
    try {
      return await run();
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) throw error;
      throw databaseStepFailed(name, url, error);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(
        databaseStepFailed(current.step, current.url, {
          message:
            `no answer within ${timeoutMs / 1000} s (DATABASE_STARTUP_TIMEOUT_MS); ` +
            "check the host, port and firewall, or raise the timeout if the database is just slow",
        }),
      );
    }, timeoutMs);
  });
  try {
    await Promise.race([work(step), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops accepting connections, waits for in-flight requests, then cuts whatever is left. */
async function drainHttp(server: Server, timeoutMs: number, logger: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    // A keep-alive connection whose last response has just gone out would otherwise hold
    // close() open until its keep-alive timeout: close connections as soon as they are idle.
    const sweeper = setInterval(() => server.closeIdleConnections(), 50);
    const timer = setTimeout(() => {
      logger.warn(
        { timeoutMs },
        "in-flight requests did not finish within SHUTDOWN_TIMEOUT_MS; closing their connections",
      );
      server.closeAllConnections();
      clearInterval(sweeper);
      resolve();
    }, timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweeper);
      resolve();
    });
    server.closeIdleConnections();
  });
}

async function settleWithin(work: Promise<unknown>, timeoutMs: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), timeoutMs);
    timer.unref();
  });
  const outcome = await Promise.race([work.then(() => "done" as const), expired]);
  clearTimeout(timer);
  if (outcome === "expired") onTimeout();
}
