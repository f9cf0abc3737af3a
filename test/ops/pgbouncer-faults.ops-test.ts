// Faults behind PgBouncer, as in the compose stack: PostgreSQL stopped, then back; then frozen
// (it accepts connections but never answers), then thawed. Requests must fail with
// SERVICE_UNAVAILABLE within PgBouncer's configured bounds (query_wait_timeout, query_timeout),
// /readyz must say 503, and everything must recover by itself. Uses a PostgreSQL 18 of its own.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server.ts";
import { createOrganisation } from "../helpers/database.ts";
import { graphql } from "../helpers/http-server.ts";
import { startPgBouncer, type RunningPgBouncer } from "../helpers/pgbouncer.ts";
import { startRestartablePostgres, type RestartablePostgres } from "../helpers/restartable-postgres.ts";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.ts";
import { getJson, startServerFor } from "../helpers/server-for-database.ts";
import { memberToken } from "../helpers/tokens.ts";

const QUERY_WAIT_TIMEOUT_S = 2;
const QUERY_TIMEOUT_S = 3;
const MARGIN_MS = 1_500;
const QUERY = "{ people { totalCount } }";

let postgres: RestartablePostgres;
let scratch: ScratchDatabase;
let bouncer: RunningPgBouncer;
let server: RunningServer;
let token: string;

beforeAll(async () => {
  postgres = await startRestartablePostgres();
  scratch = await createScratchDatabase(postgres.rootUrl, "pbfault");
  const owner = new pg.Pool({ connectionString: scratch.urls.ownerUrl, max: 1 });
  try {
    const organisation = await createOrganisation(owner, "pbfault");
    token = memberToken(organisation, "member", 600);
  } finally {
    await owner.end();
  }
  bouncer = await startPgBouncer({
    database: scratch.name,
    authUser: scratch.authenticatorRole,
    authPassword: scratch.password,
    postgresHost: "127.0.0.1",
    postgresPort: postgres.port,
    maxServerConnections: 2,
    queryWaitTimeoutSeconds: QUERY_WAIT_TIMEOUT_S,
    queryTimeoutSeconds: QUERY_TIMEOUT_S,
  });
  server = await startServerFor(
    { authenticatorUrl: bouncer.urlFor(scratch.authenticatorRole, scratch.password) },
    { MIGRATE_ON_START: "false", DATABASE_CONNECTION_TIMEOUT_MS: "1000", DATABASE_STATEMENT_TIMEOUT_MS: "2000" },
  );
});

afterAll(async () => {
  await server?.close();
  await bouncer?.stop();
  await postgres?.thaw().catch(() => {});
  await scratch?.drop().catch(() => {});
  await postgres?.destroy();
});

async function timedQuery(): Promise<{ code: string; ms: number }> {
  const started = performance.now();
  const response = await graphql(server, QUERY, { token });
  const ms = Math.round(performance.now() - started);
  if (!response.body.errors) return { code: "OK", ms };
  return { code: response.body.errors[0]?.extensions?.code ?? `masked: ${response.body.errors[0]?.message}`, ms };
}

async function timeToRecover(): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 20_000) {
    if ((await timedQuery()).code === "OK") return Math.round(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("no recovery within 20 s");
}

describe("behind PgBouncer", () => {
  it("serves before any fault", async () => {
    expect((await timedQuery()).code).toBe("OK");
  });

  it("fails requests with SERVICE_UNAVAILABLE within query_wait_timeout while PostgreSQL is stopped, and says 503", async () => {
    await postgres.stop("fast");
    const attempts = [await timedQuery(), await timedQuery(), await timedQuery()];
    for (const attempt of attempts) {
      expect(attempt.code).toBe("SERVICE_UNAVAILABLE");
      expect(attempt.ms).toBeLessThan(QUERY_WAIT_TIMEOUT_S * 1000 + MARGIN_MS);
    }
    expect((await getJson(`${server.url}/readyz`)).status).toBe(503);
    console.info(`[pgbouncer faults] database stopped: requests failed in ${attempts.map((a) => a.ms).join(", ")} ms`);
  });

  it("recovers by itself once PostgreSQL is back (PgBouncer retries its login every second)", async () => {
    await postgres.start();
    const recoveredInMs = await timeToRecover();
    expect(recoveredInMs).toBeLessThan(5_000);
    expect((await getJson(`${server.url}/readyz`)).status).toBe(200);
    console.info(`[pgbouncer faults] recovered ${recoveredInMs} ms after PostgreSQL was back`);
  });

  it("fails requests with SERVICE_UNAVAILABLE within query_timeout when PostgreSQL freezes, and recovers when it thaws", async () => {
    await postgres.freeze();
    let attempts: Array<{ code: string; ms: number }>;
    try {
      attempts = [await timedQuery(), await timedQuery()];
    } finally {
      await postgres.thaw();
    }
    for (const attempt of attempts) {
      expect(attempt.code).toBe("SERVICE_UNAVAILABLE");
      expect(attempt.ms).toBeLessThan(QUERY_TIMEOUT_S * 1000 + MARGIN_MS);
    }
    const recoveredInMs = await timeToRecover();
    expect(recoveredInMs).toBeLessThan(5_000);
    console.info(
      `[pgbouncer faults] frozen database: requests failed in ${attempts.map((a) => a.ms).join(", ")} ms; ` +
        `recovered ${recoveredInMs} ms after the thaw`,
    );
  });
});
