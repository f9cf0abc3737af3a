// Graceful shutdown of the real process: on SIGTERM it stops accepting connections, lets the
// request in flight finish, closes its database pool and exits 0; a request that outlives
// SHUTDOWN_TIMEOUT_MS is cut off and the process still exits 0, in bounded time.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APPLICATION_NAME } from "../../src/server.ts";
import { createOrganisation, testDatabase } from "../helpers/database.ts";
import { TEST_JWT_SECRET } from "../helpers/http-server.ts";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.ts";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.ts";
import { memberToken } from "../helpers/tokens.ts";

let scratch: ScratchDatabase;
let owner: pg.Pool;
/** Superuser: only it sees other roles' sessions in pg_stat_activity. */
let monitor: pg.Pool;
let token: string;

beforeAll(async () => {
  scratch = await createScratchDatabase(testDatabase().serverRootUrl, "stop");
  owner = new pg.Pool({ connectionString: scratch.urls.ownerUrl, max: 3 });
  monitor = new pg.Pool({ connectionString: testDatabase().serverRootUrl, max: 1 });
  const organisation = await createOrganisation(owner, "stop");
  await owner.query(
    "insert into crm.people (organisation_id, first_name, email) values ($1, 'Ada', 'ada@example.test')",
    [organisation.id],
  );
  token = memberToken(organisation, "member", 600);
});

afterAll(async () => {
  await monitor.end();
  await owner.end();
  await scratch.drop();
});

const startServing = (extra: Record<string, string> = {}) =>
  startServerProcess({
    AUTH_DATABASE_URL: scratch.urls.authenticatorUrl,
    MIGRATE_ON_START: "false",
    JWT_SECRET: TEST_JWT_SECRET,
    ...extra,
  });

function queryPeople(server: ServerProcess): Promise<Response> {
  return fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: "{ people { nodes { firstName } } }" }),
  });
}

/** Holds an exclusive lock on crm.people until released: requests reading people wait inside PostgreSQL. */
async function lockPeople(): Promise<{ release: () => Promise<void> }> {
  const client = await owner.connect();
  await client.query("begin; lock table crm.people in access exclusive mode");
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await client.query("commit");
      client.release();
    },
  };
}

async function waitForServerSessions(
  predicate: (sessions: { waiting: number; total: number }) => boolean,
): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { rows } = await monitor.query<{ waiting: number; total: number }>(
      `select count(*) filter (where wait_event_type = 'Lock')::int as waiting, count(*)::int as total
         from pg_stat_activity where datname = $1 and application_name = $2`,
      [scratch.name, APPLICATION_NAME],
    );
    if (predicate(rows[0]!)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the server's sessions never reached the expected state");
}

describe("SIGTERM", () => {
  it("stops accepting, lets the in-flight request finish, closes the pool and exits 0", async () => {
    const server = await startServing();
    const lock = await lockPeople();
    try {
      const inFlight = queryPeople(server);
      await waitForServerSessions(({ waiting }) => waiting === 1);
      const exit = server.terminate();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
      expect(server.child.exitCode).toBeNull();

      await lock.release();
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ data: { people: { nodes: [{ firstName: "Ada" }] } } });
      const { code, elapsedMs } = await exit;
      expect(code).toBe(0);
      await waitForServerSessions(({ total }) => total === 0);
      console.info(`[shutdown] drained one in-flight request and exited 0, ${elapsedMs} ms after SIGTERM`);
    } finally {
      await lock.release();
      server.child.kill("SIGKILL");
    }
  });

  it("cuts off a request that outlives SHUTDOWN_TIMEOUT_MS and still exits 0 in bounded time", async () => {
    const server = await startServing({ SHUTDOWN_TIMEOUT_MS: "500", DATABASE_STATEMENT_TIMEOUT_MS: "1500" });
    const lock = await lockPeople();
    try {
      const inFlight = queryPeople(server).then(
        (response) => `answered ${response.status}`,
        () => "cut off",
      );
      await waitForServerSessions(({ waiting }) => waiting === 1);
      const { code, elapsedMs } = await server.terminate();
      expect(code).toBe(0);
      expect(elapsedMs).toBeGreaterThanOrEqual(500);
      expect(elapsedMs).toBeLessThan(500 + 1_500 + 1_500);
      expect(await inFlight).toBe("cut off");
      console.info(
        `[shutdown] a stuck request was cut off; the process exited 0 ${elapsedMs} ms after SIGTERM (500 ms grace)`,
      );
    } finally {
      await lock.release();
      server.child.kill("SIGKILL");
    }
  });
});
