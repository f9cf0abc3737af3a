// Starts a server variant as its own Node process (so its memory is its own), waits until it
// answers, samples its resident memory while load runs, and stops it.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../../src/config.ts";

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  /** Starts recording the peak resident set size (sampled every 50 ms). */
  startRssWindow(): void;
  /** Stops recording and returns the peak in bytes (undefined where /proc is unavailable). */
  endRssWindow(): number | undefined;
  stop(): Promise<void>;
}

/** Resident set size of a process, from /proc (Linux). */
export function residentBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Only what a server needs from this environment; database variables are always explicit. */
function baseEnvironment(): Record<string, string> {
  const keep = ["PATH", "HOME", "LANG", "TZ", "TMPDIR"];
  return Object.fromEntries(keep.flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : [])));
}

export async function startServerProcess(options: {
  name: string;
  /** Script relative to the project root, run with this Node (24). */
  script: string;
  environment: Record<string, string>;
  port: number;
  /** Answers 200 once the server can serve requests. */
  readyPath: string;
  timeoutMs?: number;
  /** Node options before the script (the profiling run's `--inspect=…`). */
  nodeArguments?: string[];
}): Promise<ServerProcess> {
  const args = [...(options.nodeArguments ?? []), path.join(projectRoot, options.script)];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: { ...baseEnvironment(), ...options.environment },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${options.port}`;

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let ready = false;
  while (!ready) {
    if (child.exitCode !== null) {
      throw new Error(`${options.name} exited with code ${child.exitCode} before it was ready:\n${output.trim()}`);
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${options.name} did not answer ${options.readyPath} within the time limit:\n${output.trim()}`);
    }
    ready = await fetch(`${url}${options.readyPath}`).then(
      (r) => r.ok,
      () => false,
    );
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
  }

  const pid = child.pid!;
  let peak: number | undefined;
  let sampler: NodeJS.Timeout | undefined;
  return {
    name: options.name,
    url,
    pid,
    startRssWindow() {
      peak = residentBytes(pid);
      clearInterval(sampler);
      sampler = setInterval(() => {
        const now = residentBytes(pid);
        if (now !== undefined && (peak === undefined || now > peak)) peak = now;
      }, 50);
    },
    endRssWindow() {
      clearInterval(sampler);
      sampler = undefined;
      const last = residentBytes(pid);
      if (last !== undefined && (peak === undefined || last > peak)) peak = last;
      return peak;
    },
    async stop() {
      clearInterval(sampler);
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
