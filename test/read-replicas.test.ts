// Reads on replicas, the parts that need no database: READ_* configuration, WAL positions, the
// per-session write memory, PgBouncer's replica entry. The routing itself runs against real
// clusters in test/ops/read-replicas.ops-test.ts (npm run test:ops).
import { execFile } from "node:child_process";
import { readFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse } from "graphql";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { loadConfig, projectRoot } from "../src/config.ts";
import { formatLsn, maxLsn, parseLsn } from "../src/db/replicas/lsn.ts";
import { createReadRouter, WritePositions } from "../src/db/replicas/read-routing.ts";
import { ReplicaSet } from "../src/db/replicas/replica-set.ts";
import { createLogger } from "../src/logger.ts";

const execFileAsync = promisify(execFile);
const external = {
  NODE_ENV: "test",
  DATABASE_URL: "postgres://owner:pw@primary:5432/app",
  AUTH_DATABASE_URL: "postgres://authenticator:pw@primary:5432/app",
};

describe("READ_DATABASE_URL", () => {
  it("accepts one or more authenticator URLs, comma-separated, with the lag bound and check interval", () => {
    const config = loadConfig({
      ...external,
      READ_DATABASE_URL:
        "postgres://authenticator:pw@replica-1:5432/app, postgres://authenticator:pw@bouncer:6432/app_replica",
      READ_REPLICA_MAX_LAG_MS: "500",
      READ_REPLICA_CHECK_INTERVAL_MS: "100",
    });
    expect(config.readReplicas).toEqual({
      urls: ["postgres://authenticator:pw@replica-1:5432/app", "postgres://authenticator:pw@bouncer:6432/app_replica"],
      maxLagMs: 500,
      checkIntervalMs: 100,
    });
    expect(loadConfig(external).readReplicas).toEqual({ urls: [], maxLagMs: 1000, checkIntervalMs: 200 });
  });

  it("refuses a replica URL for another role than the authenticator, a malformed one, or no external primary", () => {
    expect(() => loadConfig({ ...external, READ_DATABASE_URL: "postgres://owner:pw@replica:5432/app" })).toThrow(
      /replica 1: must log in as the authenticator \(authenticator/,
    );
    expect(() =>
      loadConfig({ ...external, READ_DATABASE_URL: "postgres://authenticator:pw@replica:5432/app,mysql://x@y/z" }),
    ).toThrow(/replica 2: must be a URL like postgres:/);
    expect(() => loadConfig({ NODE_ENV: "test", READ_DATABASE_URL: "postgres://authenticator@replica/app" })).toThrow(
      /READ_DATABASE_URL needs an external primary/,
    );
  });

  it("refuses a check interval longer than half the lag bound (the bound could not be kept)", () => {
    const replica = { ...external, READ_DATABASE_URL: "postgres://authenticator:pw@replica:5432/app" };
    expect(() =>
      loadConfig({ ...replica, READ_REPLICA_MAX_LAG_MS: "1000", READ_REPLICA_CHECK_INTERVAL_MS: "600" }),
    ).toThrow(/at most half of READ_REPLICA_MAX_LAG_MS/);
    expect(
      loadConfig({ ...replica, READ_REPLICA_MAX_LAG_MS: "1000", READ_REPLICA_CHECK_INTERVAL_MS: "500" }).readReplicas
        .checkIntervalMs,
    ).toBe(500);
  });
});

describe("WAL positions", () => {
  it("parse, compare and print PostgreSQL's pg_lsn text; anything else is no position", () => {
    expect(parseLsn("0/16B3748")).toBe(0x16b3748n);
    expect(parseLsn("1/0")! > parseLsn("0/FFFFFFFF")!).toBe(true);
    expect(formatLsn(parseLsn("16/B374D848")!)).toBe("16/B374D848");
    expect(maxLsn(parseLsn("0/10"), parseLsn("0/F"))).toBe(0x10n);
    for (const bad of ["", "16B374D848", "0/XYZ", "1/2/3", "123456789/0", "0/1; drop table x", null, undefined]) {
      expect(parseLsn(bad), String(bad)).toBeUndefined();
    }
  });
});

describe("the per-session write memory", () => {
  it("keeps a session's highest write position for the window, then forgets it", () => {
    const positions = new WritePositions(1_000);
    positions.remember("s1", 20n, 0);
    positions.remember("s1", 10n, 100);
    expect(positions.lookup("s1", 1_100)).toBe(20n);
    expect(positions.lookup("s1", 1_101)).toBeUndefined();
    expect(positions.lookup("s2", 0)).toBeUndefined();
  });

  it("stays bounded: old entries and, when full, the least recent writers are dropped", () => {
    const positions = new WritePositions(1_000, 3);
    for (let index = 0; index < 5; index++) positions.remember(`s${index}`, BigInt(index), 10);
    expect(positions.size).toBe(3);
    expect(positions.lookup("s0", 10)).toBeUndefined();
    expect(positions.lookup("s4", 10)).toBe(4n);
    positions.remember("late", 9n, 5_000);
    expect(positions.size).toBe(1);
  });
});

describe("PgBouncer's replica entry", () => {
  it("adds <database>_replica on PGBOUNCER_REPLICA_HOST, and nothing without it", async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), "pgbouncer-replica-"));
    try {
      const render = async (extra: Record<string, string>) => {
        await execFileAsync("bash", [path.join(projectRoot, "scripts/pgbouncer-config.sh"), folder], {
          env: {
            PATH: process.env.PATH,
            PGBOUNCER_DATABASE: "prospectflow",
            PGBOUNCER_AUTH_USER: "prospectflow_authenticator",
            PGBOUNCER_AUTH_PASSWORD: "secret",
            ...extra,
          },
        });
        return readFile(path.join(folder, "pgbouncer.ini"), "utf8");
      };
      expect(await render({ PGBOUNCER_REPLICA_HOST: "postgres-replica" })).toMatch(
        /^prospectflow_replica = host=postgres-replica port=5432 dbname=prospectflow$/m,
      );
      expect(await render({})).not.toMatch(/_replica/);
      await expect(render({ PGBOUNCER_REPLICA_HOST: "bad host;" })).rejects.toThrow(/not a host name/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

describe("per-request routing (fake pools: which database each operation reaches)", () => {
  const SESSION = "5b0c3a59-3f4e-4f53-9d84-0d7a8c3f0b11";
  const member = (issuedAtSeconds = Math.floor(Date.now() / 1000) - 60) => ({
    kind: "member" as const,
    userId: "0d3c4e1a-2b6f-4f0e-8a61-6a2f5d7c9e01",
    organisationId: "7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
    sessionId: SESSION,
    issuedAt: issuedAtSeconds,
  });

  /** A replica set whose single replica's connections are fakes that fail as told. */
  function setUp(options: { replayLsn?: string; failWith?: unknown } = {}) {
    const calls: string[] = [];
    const primaryPool = {
      query: async () => ({ rows: [{ lsn: "0/500" }] }),
    } as unknown as pg.Pool;
    const replicaSet = new ReplicaSet({
      urls: ["postgres://authenticator@127.0.0.1:1/never"],
      maxLagMs: 1_000,
      checkIntervalMs: 100,
      pool: { max: 1, connectionTimeoutMs: 100, idleTimeoutMs: 1_000 },
      applicationName: "test",
      primaryPool,
      logger: createLogger("silent"),
    });
    const replica = replicaSet.replicas[0]!;
    Object.assign(replica, { state: "ok", caughtUpTo: Date.now(), replayLsn: parseLsn(options.replayLsn ?? "0/400") });
    const fakeClient = {
      query: async (query: { text: string } | string) => {
        const text = typeof query === "string" ? query : query.text;
        if (text === "select 1" && options.failWith) throw options.failWith;
        return { rows: [], rowCount: 0 };
      },
      addListener() {},
      removeListener() {},
      release() {},
    };
    replica.pool.connect = (async () => {
      if (options.failWith === "connect") throw new Error("ECONNREFUSED");
      return fakeClient;
    }) as unknown as typeof replica.pool.connect;
    const router = createReadRouter({ replicaSet, primaryPool, logger: createLogger("silent") });
    const primary = (async (_settings: unknown, callback: (client: unknown) => unknown) => {
      calls.push("primary");
      return callback({ query: async () => ({ rows: [] }) });
    }) as unknown as Parameters<typeof router.contextFor>[0]["primary"];
    /** Runs one operation's database call through the router; says where it ran. */
    const run = async (
      source: string,
      extra: { authentication?: ReturnType<typeof member>; header?: string; headers?: Record<string, string> } = {},
    ) => {
      const before = { primary: calls.length, replica: replica.served };
      const headers = extra.headers ?? {};
      const context = router.contextFor({
        document: parse(source),
        operationName: undefined,
        primary,
        authentication: extra.authentication ?? member(),
        req: { get: (name: string) => (name === "x-prospectflow-lsn" ? extra.header : undefined) } as never,
        res: { headersSent: false, setHeader: (name: string, value: string) => (headers[name] = value) } as never,
      });
      const withPgClient = context.withPgClient ?? primary!;
      await withPgClient(null, (client: { query(q: { text: string }): Promise<unknown> }) =>
        client.query({ text: "select 1" }),
      );
      return calls.length > before.primary ? "primary" : replica.served > before.replica ? "replica" : "nowhere";
    };
    return { run, replica, router };
  }

  it("sends a query to the replica and a mutation to the primary, which remembers and returns the write position", async () => {
    const { run, router } = setUp();
    expect(await run("{ companies { totalCount } }")).toBe("replica");
    const headers: Record<string, string> = {};
    expect(await run("mutation { logout(input: {}) { result } }", { headers })).toBe("primary");
    expect(headers).toEqual({ "x-prospectflow-lsn": "0/500" });
    expect(router.writePositions.lookup(SESSION)).toBe(0x500n);
  });

  it("runs an anonymous mutation on the primary without reading or returning the write position", async () => {
    const { run, router } = setUp();
    const headers: Record<string, string> = {};
    const anonymous = { kind: "anonymous" } as unknown as ReturnType<typeof member>;
    expect(
      await run('mutation { login(input: { email: "a@b.test", password: "x" }) { token } }', {
        authentication: anonymous,
        headers,
      }),
    ).toBe("primary");
    expect(headers).toEqual({});
    expect(router.writePositions.lookup(SESSION)).toBeUndefined();
  });

  it("keeps a session that wrote beyond the replica's position on the primary, and uses the replica once it has caught up", async () => {
    const { run, replica } = setUp({ replayLsn: "0/400" });
    await run("mutation { logout(input: {}) { result } }");
    expect(await run("{ companies { totalCount } }")).toBe("primary");
    replica.replayLsn = 0x500n;
    expect(await run("{ companies { totalCount } }")).toBe("replica");
  });

  it("honours an echoed X-ProspectFlow-LSN beyond the replica, and ignores one that is not a position", async () => {
    const { run } = setUp({ replayLsn: "0/400" });
    expect(await run("{ companies { totalCount } }", { header: "0/401" })).toBe("primary");
    expect(await run("{ companies { totalCount } }", { header: "0/400" })).toBe("replica");
    expect(await run("{ companies { totalCount } }", { header: "FFFFFFFF/FFFFFFFF; x" })).toBe("replica");
  });

  it("reads a fresh token's queries from the primary, an older token's from the replica", async () => {
    const { run } = setUp();
    expect(await run("{ companies { totalCount } }", { authentication: member(Math.floor(Date.now() / 1000)) })).toBe(
      "primary",
    );
    expect(await run("{ companies { totalCount } }", { authentication: member() })).toBe("replica");
  });

  it("retries on the primary when the replica refuses the connection or drops it (and skips it), or cancels the read for replay", async () => {
    const refused = setUp({ failWith: "connect" });
    expect(await refused.run("{ companies { totalCount } }")).toBe("primary");
    expect(refused.replica.state).toBe("unreachable");
    // PgBouncer in front of a replica that went away answers with a connection exception.
    const behindBouncer = setUp({ failWith: Object.assign(new Error("server conn crashed?"), { code: "08P01" }) });
    expect(await behindBouncer.run("{ companies { totalCount } }")).toBe("primary");
    expect(behindBouncer.replica.state).toBe("unreachable");
    const conflict = setUp({ failWith: Object.assign(new Error("conflict with recovery"), { code: "40001" }) });
    expect(await conflict.run("{ companies { totalCount } }")).toBe("primary");
    expect(conflict.replica.state).toBe("ok");
  });

  it("does not retry the client's own errors (a revoked session) on the primary", async () => {
    const { run } = setUp({ failWith: Object.assign(new Error("Session ended"), { code: "PT005" }) });
    await expect(run("{ companies { totalCount } }")).rejects.toMatchObject({ code: "PT005" });
  });
});

describe("choosing among replicas", () => {
  const replicaSet = () =>
    new ReplicaSet({
      urls: ["postgres://authenticator@127.0.0.1:1/a", "postgres://authenticator@127.0.0.1:1/b"],
      maxLagMs: 1_000,
      checkIntervalMs: 100,
      pool: { max: 1, connectionTimeoutMs: 100, idleTimeoutMs: 1_000 },
      applicationName: "test",
      primaryPool: {} as pg.Pool,
      logger: createLogger("silent"),
    });

  it("alternates between usable replicas, and takes only one that has replayed the required position", () => {
    const set = replicaSet();
    const [first, second] = set.replicas as [(typeof set.replicas)[0], (typeof set.replicas)[0]];
    Object.assign(first, { state: "ok", caughtUpTo: Date.now(), replayLsn: 0x100n });
    Object.assign(second, { state: "ok", caughtUpTo: Date.now(), replayLsn: 0x200n });
    expect([set.choose(undefined), set.choose(undefined), set.choose(undefined)].map((r) => r?.name)).toEqual([
      "replica-1",
      "replica-2",
      "replica-1",
    ]);
    expect([set.choose(0x180n), set.choose(0x180n)].map((r) => r?.name)).toEqual(["replica-2", "replica-2"]);
    expect(set.choose(0x201n)).toBeUndefined();
  });

  it("skips a replica whose lag has grown past the bound since its last check, and one not checked ok", () => {
    const set = replicaSet();
    const [first, second] = set.replicas as [(typeof set.replicas)[0], (typeof set.replicas)[0]];
    Object.assign(first, { state: "ok", caughtUpTo: Date.now() - 1_001, replayLsn: 0x100n });
    Object.assign(second, { state: "lagging", caughtUpTo: Date.now(), replayLsn: 0x100n });
    expect(set.choose(undefined)).toBeUndefined();
    first.caughtUpTo = Date.now();
    expect(set.choose(undefined)?.name).toBe("replica-1");
    expect(set.replicaStatus().map(({ name, usable }) => ({ name, usable }))).toEqual([
      { name: "replica-1", usable: true },
      { name: "replica-2", usable: false },
    ]);
  });
});
