// Variant c, the floor for "no GraphQL": a minimal express + pg server that runs each scenario's
// hand-written SQL (bench/scenarios.ts). Everything else is what the API does per request: the
// same bearer-token check, and one transaction with the same tenant settings (visitor role,
// organisation, user, session) under RLS. Bench-only; started as a child process by bench/run.ts.
//
//   POST /sql/<scenario id>  { "variables": { … } }  →  { "data": <the SQL's json> }
import { createServer } from "node:http";
import express from "express";
import pg from "pg";
import { verifyToken } from "../../src/auth/jwt.ts";
import { VISITOR_ROLE } from "../../src/db/roles.ts";
import { SCENARIOS, TENANT_SETTINGS_SQL } from "../scenarios.ts";
import { childServerSettings } from "./child-settings.ts";

const settings = childServerSettings();
const pool = new pg.Pool({
  connectionString: settings.databaseUrl,
  max: settings.poolMax,
  application_name: "prospectflow-bench-plain",
});
pool.on("error", () => {});

const statements = new Map(SCENARIOS.filter((s) => s.sql).map((s) => [s.id as string, s.sql!]));
const app = express();
app.disable("x-powered-by");
app.use(express.json());
app.get("/healthz", (_req, res) => {
  res.json({ status: "ok" });
});
app.post("/sql/:scenario", async (req, res) => {
  const statement = statements.get(String(req.params.scenario));
  if (!statement) {
    res.status(404).json({ errors: [{ message: "unknown scenario" }] });
    return;
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get("authorization") ?? "");
  const verified = match?.[1] ? verifyToken(match[1], settings.jwtSecret, { lifetimeSeconds: 6 * 3600 }) : undefined;
  if (!verified?.ok) {
    res.status(401).json({ errors: [{ message: "bad token", extensions: { code: "UNAUTHENTICATED" } }] });
    return;
  }
  const { claims } = verified;
  const client = await pool.connect();
  try {
    // Named statements are prepared once per connection, as PostGraphile's are.
    await client.query("begin");
    await client.query({
      name: "tenant",
      text: TENANT_SETTINGS_SQL,
      values: [
        VISITOR_ROLE,
        claims.organisationId,
        claims.userId,
        claims.sessionId,
        String(settings.statementTimeoutMs),
      ],
    });
    const { rows } = await client.query<{ result: unknown }>({
      name: String(req.params.scenario),
      text: statement.text,
      values: statement.params((req.body as { variables?: Record<string, unknown> } | undefined)?.variables ?? {}),
    });
    await client.query("commit");
    res.json({ data: rows[0]?.result ?? null });
  } catch (error) {
    await client.query("rollback").catch(() => {});
    res.status(500).json({ errors: [{ message: (error as Error).message }] });
  } finally {
    client.release();
  }
});

const server = createServer(app);
server.listen(settings.port, "127.0.0.1");
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
});
