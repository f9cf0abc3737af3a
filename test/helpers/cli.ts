// Runs one of the project's command-line tools as a real process, as an operator would
// (`npm run db:backup`, `npm run db:restore`), with exactly the environment a test gives it.
import { spawn } from "node:child_process";
import path from "node:path";
import { projectRoot } from "../../src/config.ts";
import { serverEnvironment } from "./server-process.ts";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `script` relative to the project (e.g. "src/cli/backup.ts"); killed (and failing) after 60 s. */
export async function runCli(script: string, args: string[], environment: Record<string, string>): Promise<CliResult> {
  const child = spawn(process.execPath, [path.join(projectRoot, script), ...args], {
    cwd: projectRoot,
    env: serverEnvironment({ LOG_LEVEL: "warn", ...environment }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
