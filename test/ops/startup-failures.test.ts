// Start-up against an unreachable or misconfigured database: the real process (`node src/main.ts`)
// exits 1 within a bounded time with one clear message naming the step, the database (password
// hidden) and what to check; never a stack trace, never a hang.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withDatabase } from "../../src/db/connection-urls.ts";
import { findFreePort } from "../../src/db/embedded-postgres.ts";
import { startRestartablePostgres, type RestartablePostgres } from "../helpers/restartable-postgres.ts";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.ts";
import { runServerToExit } from "../helpers/server-process.ts";

const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;
const SECRET = "do-not-print-me";

let postgres: RestartablePostgres;
let scratch: ScratchDatabase;

beforeAll(async () => {
  postgres = await startRestartablePostgres();
  scratch = await createScratchDatabase(postgres.rootUrl, "boot");
});

afterAll(async () => {
  await scratch?.drop().catch(() => {});
  await postgres?.destroy();
});

const withPassword = (url: string, password: string) => {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
};

describe("start-up with a database it cannot use", () => {
  it("exits 1 at once when nothing listens on the database port, naming the step and the URL", async () => {
    const port = await findFreePort();
    const result = await runServerToExit({
      ROOT_DATABASE_URL: `postgres://postgres:${SECRET}@127.0.0.1:${port}/postgres`,
      DATABASE_URL: `postgres://owner:${SECRET}@127.0.0.1:${port}/app`,
      AUTH_DATABASE_URL: `postgres://authenticator:${SECRET}@127.0.0.1:${port}/app`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `Could not create the roles and the database (ROOT_DATABASE_URL) at postgres://postgres:***@127.0.0.1:${port}/postgres: connection refused (ECONNREFUSED)`,
    );
    expect(result.stderr + result.stdout).not.toContain(SECRET);
    expect(result.stderr).not.toMatch(STACK_LINE);
    expect(result.elapsedMs).toBeLessThan(10_000);
  });

  it("exits 1 after DATABASE_STARTUP_TIMEOUT_MS when the host accepts connections but never answers", async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const result = await runServerToExit({
        DATABASE_URL: `postgres://owner:pw@127.0.0.1:${port}/app`,
        AUTH_DATABASE_URL: `postgres://authenticator:pw@127.0.0.1:${port}/app`,
        DATABASE_STARTUP_TIMEOUT_MS: "1500",
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("Could not apply the migrations (DATABASE_URL)");
      expect(result.stderr).toContain("no answer within 1.5 s (DATABASE_STARTUP_TIMEOUT_MS)");
      expect(result.stderr).not.toMatch(STACK_LINE);
      expect(result.elapsedMs).toBeGreaterThanOrEqual(1_500);
      expect(result.elapsedMs).toBeLessThan(6_000);
      console.info(
        `[startup] silent database: the process exited ${result.elapsedMs} ms after spawn, deadline 1500 ms`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it("exits 1 saying the password was refused when AUTH_DATABASE_URL has a wrong one", async () => {
    const result = await runServerToExit({
      AUTH_DATABASE_URL: withPassword(scratch.urls.authenticatorUrl, SECRET),
      MIGRATE_ON_START: "false",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /Could not check the serving role \(AUTH_DATABASE_URL\) at postgres:\/\/pf_boot_\w+_auth:\*\*\*@/,
    );
    expect(result.stderr).toMatch(
      /password authentication failed for user "pf_boot_\w+_auth" \(28P01\): check the user name and password/,
    );
    expect(result.stderr + result.stdout).not.toContain(SECRET);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it("exits 1 saying the database does not exist when it is missing and no superuser URL can create it", async () => {
    const result = await runServerToExit({
      DATABASE_URL: withDatabase(scratch.urls.ownerUrl, "pf_no_such_database"),
      AUTH_DATABASE_URL: withDatabase(scratch.urls.authenticatorUrl, "pf_no_such_database"),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /database "pf_no_such_database" does not exist \(3D000\): create the database, or set ROOT_DATABASE_URL/,
    );
    expect(result.stderr).not.toMatch(STACK_LINE);
  });
});

describe("start-up with out-of-range settings", () => {
  it.each([
    ["DATABASE_POOL_MAX", "0", "must be a whole number from 1 to 1000"],
    ["DATABASE_POOL_MAX", "10000", "must be a whole number from 1 to 1000"],
    ["DATABASE_CONNECTION_TIMEOUT_MS", "soon", "must be a whole number from 100 to 120000"],
    ["MIGRATE_ON_START", "maybe", "MIGRATE_ON_START"],
    ["SHUTDOWN_TIMEOUT_MS", "-5", "must be a whole number from 100 to 600000"],
  ])("%s=%s stops start-up naming the variable and the allowed values", async (name, value, message) => {
    const result = await runServerToExit({ [name]: value });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${name}: `);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });
});
