// Variant b: the API's own express app and PostGraphile preset, with RLS bypassed and explicit
// tenant filters instead (bench/variants/rls-bypass-preset.ts). Bench-only; started as a child
// process by bench/run.ts with a pool that logs in as the bench's BYPASSRLS role.
import pg from "pg";
import { postgraphile } from "postgraphile";
import { createHttpServer } from "../../src/http/app.ts";
import { createLogger } from "../../src/logger.ts";
import { readCommittedMigrations } from "../../src/ops/committed-migrations.ts";
import { migrationsFolder } from "../../src/db/migrations.ts";
import { childServerSettings } from "./child-settings.ts";
import { createRlsBypassPreset } from "./rls-bypass-preset.ts";

const settings = childServerSettings();
const logger = createLogger("warn");
const pool = new pg.Pool({
  connectionString: settings.databaseUrl,
  max: settings.poolMax,
  application_name: "prospectflow-bench-rls-bypass",
});
pool.on("error", (error) => logger.warn({ err: error }, "idle database connection failed"));
const pgl = postgraphile(
  createRlsBypassPreset({ pool, statementTimeoutMs: settings.statementTimeoutMs, jwtSecret: settings.jwtSecret }),
);
await pgl.getSchema();
const server = await createHttpServer({
  pgl,
  authenticatorPool: pool,
  tokens: { jwtSecret: settings.jwtSecret, lifetimeSeconds: 6 * 3600 },
  logger,
  readiness: { pool, committed: readCommittedMigrations(migrationsFolder), logger },
});
server.listen(settings.port, "127.0.0.1");
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void Promise.resolve(pgl.release())
    .then(() => pool.end())
    .finally(() => process.exit(0));
});
