// Faults: PostgreSQL is stopped (or crashes) under a running server. Requests must fail fast with
// SERVICE_UNAVAILABLE instead of hanging, /readyz must say 503 while /healthz stays 200, and
// the server must recover by itself when PostgreSQL returns. Uses a PostgreSQL 18 of its own.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server.ts";
import { createOrganisation } from "../helpers/database.ts";
import { graphql } from "../helpers/http-server.ts";
import { startRestartablePostgres, type RestartablePostgres } from "../helpers/restartable-postgres.ts";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.ts";
import { getJson, startServerFor } from "../helpers/server-for-database.ts";
import { memberToken } from "../helpers/tokens.ts";

const CONNECTION_TIMEOUT_MS = 1_000;
const PEOPLE = "{ people { totalCount nodes { email } } }";

let postgres: RestartablePostgres;
let scratch: ScratchDatabase;
let server: RunningServer;
let token: string;
let peopleCount: number;

beforeAll(async () => {
  postgres = await startRestartablePostgres();
  scratch = await createScratchDatabase(postgres.rootUrl, "fault");
  const owner = new pg.Pool({ connectionString: scratch.urls.ownerUrl, max: 1 });
  try {
    const organisation = await createOrganisation(owner, "fault");
    for (let i = 0; i < 3; i++) {
      await owner.query("insert into crm.people (organisation_id, first_name, email) values ($1, 'P', $2)", [
        organisation.id,
        `p${i}-${randomUUID()}@example.test`,
      ]);
    }
    peopleCount = 3;
    token = memberToken(organisation, "member", 600);
  } finally {
    await owner.end();
  }
  server = await startServerFor(scratch.urls, {
    DATABASE_CONNECTION_TIMEOUT_MS: String(CONNECTION_TIMEOUT_MS),
    DATABASE_STATEMENT_TIMEOUT_MS: "3000",
    DATABASE_POOL_MAX: "4",
  });
});

afterAll(async () => {
  await server?.close();
  await scratch?.drop().catch(() => {});
  await postgres?.destroy();
});

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: Math.round(performance.now() - started) };
}

/** Polls until a request succeeds again; returns how long that took (bounded: 20 s). */
async function timeToRecover(): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 20_000) {
    const response = await graphql(server, PEOPLE, { token });
    if (response.body.data?.people?.totalCount === peopleCount) return Math.round(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the server did not recover within 20 s of PostgreSQL's return");
}

function expectServiceUnavailable(response: Awaited<ReturnType<typeof graphql>>): void {
  expect(response.body.errors?.[0]?.extensions?.code, response.text).toBe("SERVICE_UNAVAILABLE");
  expect(response.body.errors?.[0]?.message).toMatch(/database is unavailable/);
  expect(response.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|"stack"/);
}

describe("PostgreSQL stopped under a running server", () => {
  it("serves normally before the fault", async () => {
    const response = await graphql(server, PEOPLE, { token });
    expect(response.body.data?.people?.totalCount).toBe(peopleCount);
    expect((await getJson(`${server.url}/readyz`)).status).toBe(200);
  });

  it("fails requests fast with SERVICE_UNAVAILABLE, says 503 on /readyz and 200 on /healthz", async () => {
    await postgres.stop("fast");
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { result, ms } = await timed(() => graphql(server, PEOPLE, { token }));
      expectServiceUnavailable(result);
      latencies.push(ms);
    }
    expect(Math.max(...latencies)).toBeLessThan(CONNECTION_TIMEOUT_MS + 500);
    const ready = await timed(() => getJson(`${server.url}/readyz`));
    expect(ready.result).toEqual({
      status: 503,
      body: {
        status: "unavailable",
        database: "unreachable",
        migrations: "unknown",
        reason: "the database does not answer",
      },
    });
    expect(ready.ms).toBeLessThan(CONNECTION_TIMEOUT_MS + 500);
    expect(await getJson(`${server.url}/healthz`)).toEqual({ status: 200, body: { status: "ok" } });
    console.info(`[faults] database stopped: GraphQL failed in ${latencies.join(", ")} ms; /readyz in ${ready.ms} ms`);
  });

  it("recovers by itself when PostgreSQL returns, without a restart", async () => {
    await postgres.start();
    const recoveredInMs = await timeToRecover();
    expect(recoveredInMs).toBeLessThan(5_000);
    expect((await getJson(`${server.url}/readyz`)).status).toBe(200);
    console.info(`[faults] first successful request ${recoveredInMs} ms after PostgreSQL was back`);
  });

  it("fails a request that is in flight when PostgreSQL stops with SERVICE_UNAVAILABLE, then recovers", async () => {
    // An exclusive lock held by another session keeps the request waiting inside PostgreSQL.
    const blocker = new pg.Client({ connectionString: scratch.urls.ownerUrl });
    blocker.on("error", () => {}); // the stop below terminates this session too
    await blocker.connect();
    await blocker.query("begin; lock table crm.people in access exclusive mode");
    const inFlight = timed(() => graphql(server, PEOPLE, { token }));
    await waitForLockWaiter();
    await postgres.stop("fast");
    const { result, ms } = await inFlight;
    expectServiceUnavailable(result);
    expect(ms).toBeLessThan(3_000);
    await blocker.end().catch(() => {});
    await postgres.start();
    const recoveredInMs = await timeToRecover();
    expect(recoveredInMs).toBeLessThan(5_000);
    console.info(
      `[faults] in-flight request failed ${ms} ms after it started (stop included); recovered in ${recoveredInMs} ms`,
    );
  });

  it("survives a crash (immediate stop, crash recovery on start) the same way", async () => {
    await postgres.stop("immediate");
    const { result, ms } = await timed(() => graphql(server, PEOPLE, { token }));
    expectServiceUnavailable(result);
    expect(ms).toBeLessThan(CONNECTION_TIMEOUT_MS + 500);
    await postgres.start();
    const recoveredInMs = await timeToRecover();
    expect(recoveredInMs).toBeLessThan(5_000);
    console.info(`[faults] after a crash: first successful request ${recoveredInMs} ms after PostgreSQL was back`);
  });
});

/** Waits until some session of the scratch database is waiting on a lock (the in-flight request). */
async function waitForLockWaiter(): Promise<void> {
  const root = new pg.Client({ connectionString: postgres.rootUrl });
  await root.connect();
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { rows } = await root.query(
        "select count(*)::int as waiting from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'",
        [scratch.name],
      );
      if (rows[0].waiting > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("the request never reached PostgreSQL's lock queue");
  } finally {
    await root.end();
  }
}
