// `npm start` as a new user runs it: no database variables, an embedded PostgreSQL under the data
// folder, demo data, a token from `npm run token`, a clean stop on SIGTERM; and a broken
// configuration stops start-up with a clear message instead of a stack trace.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { findFreePort } from "../src/db/embedded-postgres.ts";

const DATABASE_VARIABLES = [
  "ROOT_DATABASE_URL",
  "DATABASE_URL",
  "AUTH_DATABASE_URL",
  "SHADOW_DATABASE_URL",
  "JWT_SECRET",
];

function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "warn", GRAPHILE_ENV: "development", ...extra };
  for (const name of DATABASE_VARIABLES) if (!(name in extra)) delete environment[name];
  return environment;
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

async function startServerProcess(environment: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, [path.join(projectRoot, "src/main.ts")], {
    env: environment,
    cwd: projectRoot,
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 90 s:\n${output}`)), 90_000);
    const check = () => {
      if (output.includes("ProspectFlow API is ready")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before being ready:\n${output}`));
    });
  });
  child.removeAllListeners("exit");
  return { child, output: () => output };
}

async function stop(started: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once("exit", (code) => resolve(code)));
  started.child.kill("SIGTERM");
  return exited;
}

describe("npm start with no configuration", () => {
  let dataDir: string;
  let port: number;
  let environment: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const folder = await fs.mkdtemp(path.join(os.tmpdir(), "prospectflow-start-"));
    await fs.chmod(folder, 0o755);
    dataDir = path.join(folder, "data");
    port = await findFreePort();
    environment = cleanEnvironment({ DATA_DIR: dataDir, PORT: String(port) });
  });

  afterAll(async () => {
    await fs.rm(path.dirname(dataDir), { recursive: true, force: true });
  });

  it("starts the embedded database, loads demo data, serves GraphQL with a CLI token, and stops cleanly", async () => {
    const started = await startServerProcess(environment);
    try {
      expect(started.output()).toContain(`http://localhost:${port}/graphql`);
      expect(started.output()).toContain("npm run token");
      const token = spawnSync(process.execPath, ["src/cli/token.ts", "--email", "maya@acme.test", "--org", "acme"], {
        cwd: projectRoot,
        env: environment,
        encoding: "utf8",
      });
      expect(token.status, token.stderr).toBe(0);
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token.stdout.trim()}` },
        body: JSON.stringify({ query: "{ organisations { nodes { slug } } people { totalCount } }" }),
      });
      const body = (await response.json()) as {
        data: { organisations: { nodes: unknown[] }; people: { totalCount: number } };
      };
      expect(body.data.organisations.nodes).toEqual([{ slug: "acme" }]);
      expect(body.data.people.totalCount).toBeGreaterThan(0);
      expect(existsSync(path.join(dataDir, "postgres", "postmaster.pid"))).toBe(true);
    } finally {
      expect(await stop(started)).toBe(0);
    }
    // The embedded PostgreSQL was stopped with the server.
    expect(existsSync(path.join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
  });

  it("keeps its data across restarts and does not load the demo data twice", async () => {
    const started = await startServerProcess(environment);
    try {
      expect(started.output()).not.toContain("initialising the embedded PostgreSQL cluster");
      const token = spawnSync(process.execPath, ["src/cli/token.ts", "--email", "olivia@acme.test", "--org", "acme"], {
        cwd: projectRoot,
        env: environment,
        encoding: "utf8",
      });
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token.stdout.trim()}` },
        body: JSON.stringify({ query: "{ users { totalCount } }" }),
      });
      const body = (await response.json()) as { data: { users: { totalCount: number } } };
      // Five members in acme (four roles plus the shared user), not ten.
      expect(body.data.users.totalCount).toBe(5);
    } finally {
      expect(await stop(started)).toBe(0);
    }
  });

  it("`npm run token` explains a wrong organisation and exits non-zero", () => {
    const result = spawnSync(process.execPath, ["src/cli/token.ts", "--email", "maya@acme.test", "--org", "globex"], {
      cwd: projectRoot,
      env: environment,
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('No membership of maya@acme.test in organisation "globex"');
  });
});

describe("a broken configuration", () => {
  const runWith = (extra: Record<string, string>) =>
    spawnSync(process.execPath, [path.join(projectRoot, "src/main.ts")], {
      cwd: projectRoot,
      env: cleanEnvironment({ DATA_DIR: path.join(os.tmpdir(), "prospectflow-never-used"), ...extra }),
      encoding: "utf8",
      timeout: 60_000,
    });

  it.each([
    ["a non-numeric PORT", { PORT: "eighty" }, /PORT/],
    [
      "a malformed DATABASE_URL",
      { DATABASE_URL: "not a url", AUTH_DATABASE_URL: "postgres://a@b/c" },
      /DATABASE_URL: must be a URL/,
    ],
    ["DATABASE_URL without AUTH_DATABASE_URL", { DATABASE_URL: "postgres://owner@127.0.0.1/db" }, /AUTH_DATABASE_URL/],
    [
      "the owner serving requests",
      { DATABASE_URL: "postgres://owner@127.0.0.1/db", AUTH_DATABASE_URL: "postgres://owner@127.0.0.1/db" },
      /never serves requests as the database owner/,
    ],
    [
      "production without JWT_SECRET",
      {
        NODE_ENV: "production",
        DATABASE_URL: "postgres://o@127.0.0.1/db",
        AUTH_DATABASE_URL: "postgres://a@127.0.0.1/db",
      },
      /JWT_SECRET of at least 32 bytes/,
    ],
    [
      "production with a short JWT_SECRET",
      {
        NODE_ENV: "production",
        JWT_SECRET: "short",
        DATABASE_URL: "postgres://o@127.0.0.1/db",
        AUTH_DATABASE_URL: "postgres://a@127.0.0.1/db",
      },
      /JWT_SECRET/,
    ],
    [
      "an unreachable database",
      { DATABASE_URL: "postgres://o:p@127.0.0.1:1/db", AUTH_DATABASE_URL: "postgres://a:p@127.0.0.1:1/db" },
      /ECONNREFUSED|connect/,
    ],
  ])("%s stops start-up with a clear message and no stack trace", (_label, extra, message) => {
    const result = runWith(extra);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });
});
