// Reads on replicas, the parts that need no database: READ_* configuration, WAL positions, the
// per-session write memory, PgBouncer's replica entry. The routing itself runs against real
// clusters in test/ops/read-replicas.ops-test.ts (npm run test:ops).
import { execFile } from "node:child_process";
import { readFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { loadConfig, projectRoot } from "../src/config.ts";
import { formatLsn, maxLsn, parseLsn } from "../src/db/replicas/lsn.ts";
import { WritePositions } from "../src/db/replicas/read-routing.ts";

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
