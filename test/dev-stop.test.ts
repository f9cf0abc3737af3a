// `npm run dev` stops within a second or two on Ctrl-C: the real dev process (schema watch with
// its LISTEN connection, graphile-migrate watch) against a database of its own, interrupted the
// way a terminal does it (SIGINT to the whole process group).
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { testDatabase } from "./helpers/database.ts";
import { TEST_JWT_SECRET } from "./helpers/http-server.ts";
import { createScratchDatabase, type ScratchDatabase } from "./helpers/scratch-database.ts";
import { serverEnvironment } from "./helpers/server-process.ts";

let scratch: ScratchDatabase;

beforeAll(async () => {
  scratch = await createScratchDatabase(testDatabase().serverRootUrl, "devstop");
});

afterAll(async () => {
  await scratch.drop();
});

it("npm run dev stops within a few seconds of Ctrl-C, while its schema watch is listening", async () => {
  const child = spawn(process.execPath, [path.join(projectRoot, "src/dev.ts")], {
    cwd: projectRoot,
    detached: true, // its own process group, like a terminal's foreground job
    env: serverEnvironment({
      GRAPHILE_ENV: "development",
      ROOT_DATABASE_URL: scratch.urls.rootUrl,
      DATABASE_URL: scratch.urls.ownerUrl,
      AUTH_DATABASE_URL: scratch.urls.authenticatorUrl,
      JWT_SECRET: TEST_JWT_SECRET,
      DEMO_DATA: "off",
      // The default statement timeout is what the LISTEN connection used to hold the stop for.
      DATABASE_STATEMENT_TIMEOUT_MS: "15000",
    }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const killer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 50_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dev not ready within 40 s:\n${output}`)), 40_000);
      const check = () => {
        if (/Watching migrations/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on("data", check);
      void exited.then((code) => reject(new Error(`dev exited with ${code} before being ready:\n${output}`)));
    });
    const url = /GraphQL:\s+(http:\/\/\S+)\/graphql/.exec(output)![1]!.replace("localhost", "127.0.0.1");
    // The schema watch is up: its LISTEN connection is checked out of the server's pool.
    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(response.status).toBe(200);
    const started = Date.now();
    process.kill(-child.pid!, "SIGINT");
    const code = await exited;
    const elapsedMs = Date.now() - started;
    expect(code, output).toBe(0);
    expect(elapsedMs, output).toBeLessThan(5_000);
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL");
  }
});
