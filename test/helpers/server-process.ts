// Runs the server as a real process (`node src/main.ts`, as `npm start` and the container do),
// with the environment a test gives it; reads the URL it prints and stops it with a signal.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { projectRoot } from "../../src/config.ts";

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** What the server wrote to stdout only (its log lines). */
  stdout(): string;
  /** Sends SIGTERM; resolves with the exit code and how long the process took to exit. */
  terminate(): Promise<{ code: number | null; elapsedMs: number }>;
}

/** Variables that must never leak from the shell running the tests into a server under test. */
const INHERITED_CONFIGURATION = [
  "ROOT_DATABASE_URL",
  "DATABASE_URL",
  "AUTH_DATABASE_URL",
  "SHADOW_DATABASE_URL",
  "JWT_SECRET",
  "MIGRATE_ON_START",
  "DEMO_DATA",
  "DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE",
];

export function serverEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: "warn",
    GRAPHILE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: "0",
    // Shared counters (and scratch databases migrated with committed migrations only): tests of
    // throttling turn it on explicitly.
    THROTTLING: "off",
  };
  for (const name of INHERITED_CONFIGURATION) delete environment[name];
  // In production the "ready" line is a pino line at info level: a warn-level server would start
  // without telling the test its address.
  if (extra.NODE_ENV === "production") environment.LOG_LEVEL = "info";
  return { ...environment, ...extra };
}

export async function startServerProcess(extra: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [path.join(projectRoot, "src/main.ts")], {
    cwd: projectRoot,
    env: serverEnvironment(extra),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let stdout = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = () => {
      // The text banner, or in production the JSON "ready" line.
      const match = /(?:GraphQL:\s+|"graphql":")(http:\/\/[^\s"]+)\/graphql/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        child.off("exit", onExit);
        resolve(match[1]!.replace("localhost", "127.0.0.1"));
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before being ready:\n${output}`));
    };
    child.stdout!.on("data", onData);
    child.once("exit", onExit);
  });
  return {
    child,
    url,
    output: () => output,
    stdout: () => stdout,
    async terminate() {
      const started = Date.now();
      if (child.exitCode !== null) return { code: child.exitCode, elapsedMs: 0 };
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      const code = await exited;
      return { code, elapsedMs: Date.now() - started };
    },
  };
}

export interface ExitedServer {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit (includes Node's own start-up, about half a second). */
  elapsedMs: number;
}

/** Runs a server that is expected to fail start-up; kills it (and fails) after 30 s. */
export async function runServerToExit(extra: Record<string, string>): Promise<ExitedServer> {
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(projectRoot, "src/main.ts")], {
    cwd: projectRoot,
    env: serverEnvironment({ DATA_DIR: path.join(projectRoot, ".data", "never-used"), ...extra }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  return { code, stdout, stderr, elapsedMs: Date.now() - started };
}
