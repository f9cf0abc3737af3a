// Reads on replicas (src/db/replicas), on PostgreSQL clusters of the test's own: a primary and a
// real streaming replica made with pg_basebackup, two API server processes in front of them.
// Queries are served by the replica, mutations by the primary; a writer reads its write on the
// other instance too (X-ProspectFlow-LSN); a paused replica is skipped, reported by /readyz and
// used again once resumed; a revoked session is refused within READ_REPLICA_MAX_LAG_MS; an
// unreachable replica never fails a request, directly or behind PgBouncer (the compose layout).
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import pg from "pg";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JWT_AUDIENCE, JWT_ISSUER } from "../../src/auth/jwt.ts";
import { findFreePort } from "../../src/db/embedded-postgres.ts";
import { parseLsn } from "../../src/db/replicas/lsn.ts";
import type { RunningServer } from "../../src/server.ts";
import { TEST_JWT_SECRET } from "../helpers/http-server.ts";
import { startPgBouncer, type RunningPgBouncer } from "../helpers/pgbouncer.ts";
import {
  createWorkspace,
  debianServerBinaries,
  nativeCluster,
  type NativeCluster,
  type Workspace,
} from "../helpers/native-cluster.ts";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.ts";
import { startServerFor } from "../helpers/server-for-database.ts";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.ts";

const MAX_LAG_MS = 3_000;
const CHECK_INTERVAL_MS = 100;
const PASSWORD = "replica-test-password-1";

let workspace: Workspace;
let primary: NativeCluster;
let replica: NativeCluster;
let database: ScratchDatabase;
let replicaUrl: string;
let serverA: ServerProcess;
let serverB: ServerProcess;
const clusters: NativeCluster[] = [];

interface Account {
  email: string;
  token: string;
  userId: string;
  organisationId: string;
}
let alice: Account;
let bob: Account;
/** A second session of Alice's, signed out by the revocation test. */
let aliceSecond: Account;

const replicaEnvironment = () => ({
  NODE_ENV: "test",
  AUTH_DATABASE_URL: database.urls.authenticatorUrl,
  MIGRATE_ON_START: "false",
  JWT_SECRET: TEST_JWT_SECRET,
  READ_DATABASE_URL: replicaUrl,
  READ_REPLICA_MAX_LAG_MS: String(MAX_LAG_MS),
  READ_REPLICA_CHECK_INTERVAL_MS: String(CHECK_INTERVAL_MS),
});

beforeAll(async () => {
  workspace = await createWorkspace(await debianServerBinaries());
  primary = await nativeCluster(workspace, "primary", {
    initialise: true,
    settings: { wal_level: "replica", max_wal_senders: "5", wal_keep_size: "'64MB'" },
  });
  await primary.start();
  clusters.push(primary);
  database = await createScratchDatabase(primary.url(), "replicas");

  await workspace.run("pg_basebackup", [
    `--dbname=${primary.url()}`,
    `--pgdata=${path.join(workspace.folder, "replica")}`,
    "--wal-method=stream",
    "--write-recovery-conf",
    "--checkpoint=fast",
  ]);
  replica = await nativeCluster(workspace, "replica", {
    initialise: false,
    settings: { hot_standby: "on" },
  });
  await replica.start();
  clusters.push(replica);
  const url = new URL(database.urls.authenticatorUrl);
  url.port = String(replica.port);
  replicaUrl = url.toString();

  // One after the other: both apply the (already applied) migrations at start, and graphile-migrate
  // refuses a second migrator while the first holds its lock.
  serverA = await startServerProcess(replicaEnvironment());
  serverB = await startServerProcess(replicaEnvironment());
  alice = await register(serverA, "alice");
  bob = await register(serverA, "bob");
  const login = await gql(serverA, LOGIN, { variables: { email: alice.email, password: PASSWORD } });
  aliceSecond = { ...alice, token: (login.body.data!.login as { token: string }).token };
  // Tokens this fresh read from the primary (their session may not be replicated yet): age them.
  await sleep(MAX_LAG_MS + 1_200);
}, 180_000);

afterAll(async () => {
  await Promise.all([serverA?.terminate(), serverB?.terminate()]);
  for (const cluster of clusters.reverse()) await cluster.stop("immediate").catch(() => {});
  await workspace?.remove();
});

const LOGIN = `mutation($email: String!, $password: String!) {
  login(input: { email: $email, password: $password }) { token } }`;
const CREATE_COMPANY = `mutation($name: String!) { createCompany(input: { company: { name: $name } }) { company { name } } }`;
const COMPANY_NAMES = `{ companies { nodes { name } } }`;

interface Answer {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  lsn: string | null;
}

async function gql(
  server: { url: string },
  query: string,
  options: { token?: string; variables?: Record<string, unknown>; lsn?: string | null } = {},
): Promise<Answer> {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.lsn ? { "x-prospectflow-lsn": options.lsn } : {}),
    },
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
  });
  return {
    status: response.status,
    body: (await response.json()) as Answer["body"],
    lsn: response.headers.get("x-prospectflow-lsn"),
  };
}

/** Signs up (an unverified account and its organisation), verifies the address as the mailed link would, signs in. */
async function register(server: ServerProcess, label: string): Promise<Account> {
  const email = `${label}.${randomBytes(4).toString("hex")}@example.test`;
  const answer = await gql(
    server,
    `mutation($email: String!, $password: String!, $name: String!) {
    register(input: { email: $email, password: $password, organisationName: $name }) { message } }`,
    {
      variables: { email, password: PASSWORD, name: `${label} org` },
    },
  );
  expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
  const owner = new pg.Client({ connectionString: database.urls.ownerUrl });
  await owner.connect();
  await owner.query("update iam.users set email_verified_at = now() where email = $1", [email]);
  await owner.end();
  const login = await gql(
    server,
    `mutation($email: String!, $password: String!) {
    login(input: { email: $email, password: $password }) { token userId organisationId } }`,
    { variables: { email, password: PASSWORD } },
  );
  expect(login.body.errors, JSON.stringify(login.body.errors)).toBeUndefined();
  return { email, ...(login.body.data!.login as Omit<Account, "email">) };
}

async function companyNames(server: { url: string }, account: Account, lsn?: string | null): Promise<string[]> {
  const answer = await gql(server, COMPANY_NAMES, { token: account.token, lsn: lsn ?? null });
  expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
  return (answer.body.data!.companies as { nodes: { name: string }[] }).nodes.map((node) => node.name);
}

interface ReplicaReport {
  name: string;
  state: string;
  usable: boolean;
  lagMs: number | null;
  replayLsn: string | null;
  replayPaused: boolean | null;
  served: number;
}

async function readiness(server: { url: string }): Promise<{ status: number; replicas: ReplicaReport[] }> {
  const response = await fetch(`${server.url}/readyz`);
  const body = (await response.json()) as { replicas: ReplicaReport[] };
  return { status: response.status, replicas: body.replicas };
}

const served = async (server: { url: string }, index = 0) => (await readiness(server)).replicas[index]!.served;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A token signed a minute ago (so not "fresh"), for any user and organisation. */
/** A token signed a minute ago, on session `sid` (every token names one). */
function agedToken(userId: string, organisationId: string, sid: string = randomUUID()): string {
  return jwt.sign({ organisation_id: organisationId, sid, iat: Math.floor(Date.now() / 1000) - 60 }, TEST_JWT_SECRET, {
    algorithm: "HS256",
    subject: userId,
    expiresIn: 600,
    issuer: JWT_ISSUER,
    audience: JWT_AUDIENCE,
  });
}

describe("routing", () => {
  it("serves queries from the replica and mutations from the primary, which answers with its WAL position", async () => {
    const before = await served(serverA);
    expect(await companyNames(serverA, alice)).toEqual([]);
    expect(await served(serverA)).toBeGreaterThan(before);

    const name = `Routed ${randomUUID()}`;
    const afterQuery = await served(serverA);
    const created = await gql(serverA, CREATE_COMPANY, { token: alice.token, variables: { name } });
    expect(created.body.errors).toBeUndefined();
    expect(created.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(await served(serverA)).toBe(afterQuery);
    // Once replayed, the replica serves it.
    await waitFor("the replica to replay the write", async () => {
      const [row] = await replica.query<{ caught_up: boolean }>(
        "select pg_last_wal_replay_lsn() >= $1::pg_lsn as caught_up",
        [created.lsn],
      );
      return row?.caught_up ? true : undefined;
    });
    const beforeRead = await served(serverB);
    expect(await companyNames(serverB, alice)).toEqual([name]);
    expect(await served(serverB)).toBeGreaterThan(beforeRead);
  });

  it("a fresh token reads from the primary until its session can be on every usable replica", async () => {
    const carol = await register(serverA, "carol");
    const before = await served(serverB);
    expect(await companyNames(serverB, carol)).toEqual([]);
    expect(await served(serverB)).toBe(before);
  });

  it("keeps RLS and the tenant check on the replica: another tenant's rows stay invisible, a non-member is refused", async () => {
    const name = `Alice only ${randomUUID()}`;
    const created = await gql(serverA, CREATE_COMPANY, { token: alice.token, variables: { name } });
    expect(created.body.errors).toBeUndefined();
    await waitFor("the replica to replay the write", async () => {
      const [row] = await replica.query<{ ok: boolean }>("select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok", [
        created.lsn,
      ]);
      return row?.ok ? true : undefined;
    });
    const before = await served(serverB);
    expect(await companyNames(serverB, bob)).toEqual([]);
    expect(await companyNames(serverB, alice)).toContain(name);
    // Bob's user in Alice's organisation: a validly signed token on an open session, but no membership.
    const owner = new pg.Client({ connectionString: database.urls.ownerUrl });
    await owner.connect();
    const { rows } = await owner.query<{ session_id: string }>(
      "select (app_hidden.start_session($1, $2, 600)).session_id",
      [bob.userId, alice.organisationId],
    );
    const lsn = (await owner.query<{ lsn: string }>("select pg_current_wal_lsn()::text as lsn")).rows[0]!.lsn;
    await owner.end();
    await waitFor("the replica to replay the session", async () => {
      const [row] = await replica.query<{ ok: boolean }>("select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok", [lsn]);
      return row?.ok ? true : undefined;
    });
    const intruder = await gql(serverB, COMPANY_NAMES, {
      token: agedToken(bob.userId, alice.organisationId, rows[0]!.session_id),
    });
    expect(intruder.body.errors?.[0]?.extensions?.code).toBe("NOT_A_MEMBER");
    expect(intruder.body.data?.companies ?? null).toBeNull();
    expect(await served(serverB)).toBeGreaterThanOrEqual(before + 2);
  });
});

describe("a paused replica", () => {
  it("is skipped once it lags beyond READ_REPLICA_MAX_LAG_MS, reported by /readyz, and used again once resumed; writers read their writes meanwhile", async () => {
    await replica.query("select pg_wal_replay_pause()");
    try {
      const name = `While paused ${randomUUID()}`;
      // Everything after the write in the same request (the payload's query) reads the primary.
      const created = await gql(
        serverA,
        `mutation($name: String!) { createCompany(input: { company: { name: $name } }) {
          query { companies { nodes { name } } } } }`,
        { token: alice.token, variables: { name } },
      );
      expect(created.body.errors).toBeUndefined();
      const payload = created.body.data!.createCompany as { query: { companies: { nodes: { name: string }[] } } };
      expect(payload.query.companies.nodes.map((node) => node.name)).toContain(name);
      // Read-your-writes: the other instance, given the write's position, reads the primary...
      expect(await companyNames(serverB, alice, created.lsn)).toContain(name);
      // ...and so does the instance that served the write, without the header.
      expect(await companyNames(serverA, alice)).toContain(name);
      // The limit: without the header, the other instance may answer from a replica that is
      // behind, but never more than READ_REPLICA_MAX_LAG_MS behind.
      const stale = await companyNames(serverB, alice);
      expect(stale).not.toContain(name);

      const skipped = await waitFor(
        "/readyz to report the replica as lagging",
        async () => {
          const report = await readiness(serverB);
          return report.replicas[0]!.state === "lagging" ? report : undefined;
        },
        MAX_LAG_MS + 10_000,
      );
      expect(skipped.status).toBe(200);
      expect(skipped.replicas[0]).toMatchObject({ name: "replica-1", usable: false, replayPaused: true });
      expect(skipped.replicas[0]!.lagMs).toBeGreaterThan(MAX_LAG_MS);
      const before = await served(serverB);
      expect(await companyNames(serverB, alice)).toContain(name);
      expect(await served(serverB)).toBe(before);
    } finally {
      await replica.query("select pg_wal_replay_resume()");
    }
    const resumed = await waitFor("the replica to be used again", async () => {
      const report = await readiness(serverB);
      return report.replicas[0]!.usable ? report : undefined;
    });
    expect(resumed.replicas[0]).toMatchObject({ state: "ok", replayPaused: false });
    const before = await served(serverB);
    expect((await companyNames(serverB, alice)).some((name) => name.startsWith("While paused"))).toBe(true);
    expect(await served(serverB)).toBeGreaterThan(before);
  });
});

describe("a revoked session", () => {
  it("is refused on every instance within READ_REPLICA_MAX_LAG_MS, even while the replica has not replayed the sign-out", async () => {
    // Both of Alice's sessions work through the replica.
    expect((await gql(serverB, COMPANY_NAMES, { token: aliceSecond.token })).body.errors).toBeUndefined();
    await replica.query("select pg_wal_replay_pause()");
    try {
      const logout = await gql(serverA, "mutation { logout(input: {}) { result } }", { token: aliceSecond.token });
      const revokedAt = Date.now();
      expect(logout.body.data?.logout).toEqual({ result: true });
      // On the instance that signed it out, refused at once (it remembers the session's write).
      const sameInstance = await gql(serverA, COMPANY_NAMES, { token: aliceSecond.token });
      expect(sameInstance.body.errors?.[0]?.extensions?.code).toBe("SESSION_REVOKED");
      // On the other: refused at the latest when the replica's lag passes the bound.
      await sleep(Math.max(0, revokedAt + MAX_LAG_MS + 2 * CHECK_INTERVAL_MS - Date.now()));
      const otherInstance = await gql(serverB, COMPANY_NAMES, { token: aliceSecond.token });
      expect(otherInstance.body.errors?.[0]?.extensions?.code).toBe("SESSION_REVOKED");
      // Her other session is untouched.
      expect((await gql(serverB, COMPANY_NAMES, { token: alice.token })).body.errors).toBeUndefined();
    } finally {
      await replica.query("select pg_wal_replay_resume()");
    }
    await waitFor("the replica to be used again", async () =>
      (await readiness(serverB)).replicas[0]!.usable ? true : undefined,
    );
    const before = await served(serverB);
    const onReplica = await gql(serverB, COMPANY_NAMES, { token: aliceSecond.token });
    expect(onReplica.body.errors?.[0]?.extensions?.code).toBe("SESSION_REVOKED");
    expect(await served(serverB)).toBe(before);
  });
});

describe("an unreachable replica", () => {
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
  });

  it("is skipped and reported (as is a primary listed as a replica); requests are served by the working replica or the primary, and a restarted replica is used again", async () => {
    const nowhere = new URL(replicaUrl);
    nowhere.port = String(await findFreePort());
    server = await startServerFor(
      { authenticatorUrl: database.urls.authenticatorUrl },
      {
        MIGRATE_ON_START: "false",
        // The third is the primary itself, listed by mistake: it does not replay anything.
        READ_DATABASE_URL: `${nowhere.toString()}, ${replicaUrl}, ${database.urls.authenticatorUrl}`,
        READ_REPLICA_MAX_LAG_MS: String(MAX_LAG_MS),
        READ_REPLICA_CHECK_INTERVAL_MS: String(CHECK_INTERVAL_MS),
      },
    );
    const report = await readiness(server);
    expect(report.status).toBe(200);
    expect(report.replicas.map(({ name, state, usable }) => ({ name, state, usable }))).toEqual([
      { name: "replica-1", state: "unreachable", usable: false },
      { name: "replica-2", state: "ok", usable: true },
      { name: "replica-3", state: "not_a_replica", usable: false },
    ]);
    const before = await served(server, 1);
    expect(await companyNames(server, bob)).toEqual([]);
    expect(await served(server, 1)).toBeGreaterThan(before);

    await replica.stop("fast");
    try {
      // Whether or not the monitor has noticed yet, the query is answered (by the primary).
      expect(await companyNames(server, bob)).toEqual([]);
      const down = await waitFor("/readyz to report both real replicas unreachable", async () => {
        const current = await readiness(server!);
        return current.replicas[0]!.state === "unreachable" && current.replicas[1]!.state === "unreachable"
          ? current
          : undefined;
      });
      expect(down.status).toBe(200);
      expect(await companyNames(server, bob)).toEqual([]);
    } finally {
      await replica.start();
    }
    await waitFor("the restarted replica to be used again", async () =>
      (await readiness(server!)).replicas[1]!.usable ? true : undefined,
    );
    const again = await served(server, 1);
    expect(await companyNames(server, bob)).toEqual([]);
    expect(await served(server, 1)).toBeGreaterThan(again);
  });
});

describe("through PgBouncer (the compose layout)", () => {
  let bouncer: RunningPgBouncer | undefined;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.terminate();
    await bouncer?.stop();
  });

  it("reads through the <database>_replica entry and writes through the primary's; a replica stopped behind PgBouncer fails no request", async () => {
    bouncer = await startPgBouncer({
      database: database.name,
      authUser: database.authenticatorRole,
      authPassword: database.password,
      postgresHost: "127.0.0.1",
      postgresPort: primary.port,
      maxServerConnections: 10,
      queryWaitTimeoutSeconds: 3,
      replica: { host: "127.0.0.1", port: replica.port },
    });
    expect(bouncer.config).toContain(
      `${database.name}_replica = host=127.0.0.1 port=${replica.port} dbname=${database.name}`,
    );
    const primaryThroughBouncer = bouncer.urlFor(database.authenticatorRole, database.password);
    const replicaThroughBouncer = new URL(primaryThroughBouncer);
    replicaThroughBouncer.pathname = `/${database.name}_replica`;
    server = await startServerProcess({
      ...replicaEnvironment(),
      AUTH_DATABASE_URL: primaryThroughBouncer,
      READ_DATABASE_URL: replicaThroughBouncer.toString(),
      DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE: "0",
    });
    expect((await readiness(server)).replicas[0]).toMatchObject({ state: "ok", usable: true });
    const name = `Through PgBouncer ${randomUUID()}`;
    const created = await gql(server, CREATE_COMPANY, { token: bob.token, variables: { name } });
    expect(created.body.errors).toBeUndefined();
    expect(await companyNames(server, bob, created.lsn)).toEqual([name]);
    // This instance remembers Bob's write: it reads the replica once its monitor has seen it replayed.
    await waitFor("the server to see the replica past the write", async () => {
      const replayed = parseLsn((await readiness(server!)).replicas[0]!.replayLsn);
      return replayed !== undefined && replayed >= parseLsn(created.lsn)! ? true : undefined;
    });
    const before = await served(server);
    expect(await companyNames(server, bob)).toEqual([name]);
    expect(await served(server)).toBeGreaterThan(before);

    await replica.stop("fast");
    try {
      // PgBouncer still accepts the connection; the failure comes as an error from it (class 08),
      // which the server retries on the primary, before and after the monitor notices.
      for (let attempt = 0; attempt < 5; attempt++) expect(await companyNames(server, bob)).toEqual([name]);
      const down = await waitFor("/readyz to report the replica unreachable", async () => {
        const report = await readiness(server!);
        return report.replicas[0]!.state === "unreachable" ? report : undefined;
      });
      expect(down.status).toBe(200);
      expect(await companyNames(server, bob)).toEqual([name]);
    } finally {
      await replica.start();
    }
    await waitFor("the restarted replica to be used again", async () =>
      (await readiness(server!)).replicas[0]!.usable ? true : undefined,
    );
    const again = await served(server);
    expect(await companyNames(server, bob)).toEqual([name]);
    expect(await served(server)).toBeGreaterThan(again);
  });
});
