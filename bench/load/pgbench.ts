// Variant d: pgbench running a scenario's SQL straight against PostgreSQL, with the same
// transaction the API runs (tenant settings, then the statement). pgbench 15 (Debian's) drives
// PostgreSQL 15–18 fine with a custom script (-n -f). Latencies come from its per-transaction log.
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { benchRoot } from "../bench-database.ts";
import type { LoadMeasurement } from "./http-load.ts";
import { percentile } from "./stats.ts";

const execFileAsync = promisify(execFile);
const INSTALL_SCRIPT = path.join(benchRoot, "install-pgbench.sh");
/** Where bench/install-pgbench.sh puts pgbench when it has to extract it from Debian's package. */
export const EXTRACTED_PGBENCH = "/usr/local/lib/prospectflow-bench/pgbench";

function works(binary: string): boolean {
  const result = spawnSync(binary, ["--version"], { encoding: "utf8" });
  return result.status === 0 && /pgbench \(PostgreSQL\)/.test(result.stdout);
}

/** The newest working pgbench: PGBENCH, Debian's versioned ones, PATH, the extracted copy. */
export function findPgbench(): string | undefined {
  const candidates: string[] = [];
  if (process.env.PGBENCH) candidates.push(process.env.PGBENCH);
  if (existsSync("/usr/lib/postgresql")) {
    const versions = readdirSync("/usr/lib/postgresql")
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin/pgbench`));
  }
  candidates.push("pgbench", EXTRACTED_PGBENCH);
  return candidates.find((candidate) => (candidate === "pgbench" || existsSync(candidate)) && works(candidate));
}

/** Finds pgbench, installing it with bench/install-pgbench.sh (apt, Debian/Ubuntu) when missing. */
export async function ensurePgbench(log: (line: string) => void): Promise<string> {
  const found = findPgbench();
  if (found) return found;
  log("[pgbench] not found; installing it with bench/install-pgbench.sh");
  await new Promise<void>((resolve, reject) => {
    const child = spawn("bash", [INSTALL_SCRIPT], { stdio: ["ignore", "inherit", "inherit"] });
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`bench/install-pgbench.sh failed (exit ${code})`)),
    );
  });
  const installed = findPgbench();
  if (!installed) throw new Error("pgbench is still missing after bench/install-pgbench.sh; set PGBENCH to its path.");
  return installed;
}

export async function pgbenchVersion(binary: string): Promise<string> {
  const { stdout } = await execFileAsync(binary, ["--version"]);
  return stdout.trim();
}

export interface PgbenchOptions {
  binary: string;
  /** Connection URL (the authenticator's, as the API logs in). */
  url: string;
  script: string;
  defines: Record<string, string>;
  clients: number;
  seconds: number;
  /** prepared (as PostGraphile and variant c run their statements), or simple for multi-statement lines. */
  protocol: "prepared" | "simple";
  /** Run a fixed number of transactions per client instead of a duration (validation). */
  transactionsPerClient?: number;
}

export async function runPgbench(options: PgbenchOptions): Promise<LoadMeasurement & { output: string }> {
  const workDirectory = await fs.mkdtemp(path.join(os.tmpdir(), "prospectflow-pgbench-"));
  try {
    const scriptFile = path.join(workDirectory, "script.sql");
    await fs.writeFile(scriptFile, `${options.script.trim()}\n`);
    const url = new URL(options.url);
    const args = [
      "-n",
      "-f",
      scriptFile,
      "-c",
      String(options.clients),
      "-j",
      "1",
      "-M",
      options.protocol,
      "-l",
      `--log-prefix=${path.join(workDirectory, "log")}`,
      ...(options.transactionsPerClient
        ? ["-t", String(options.transactionsPerClient)]
        : ["-T", String(options.seconds)]),
      ...Object.entries(options.defines).flatMap(([name, value]) => ["-D", `${name}=${value}`]),
    ];
    const environment = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      PGHOST: url.hostname,
      PGPORT: url.port || "5432",
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: decodeURIComponent(url.pathname.slice(1)),
      PGAPPNAME: "prospectflow-bench-pgbench",
    };
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        const child = spawn(options.binary, args, { env: environment, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
        child.once("exit", (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
      },
    );
    const output = `${stdout}\n${stderr}`;
    const processed = /number of transactions actually processed: (\d+)/.exec(stdout);
    if (!processed) throw new Error(`pgbench failed (exit ${code}):\n${output.trim()}`);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    const abortedClients = (stderr.match(/client \d+ (script \d+ )?aborted/g) ?? []).length;
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? Number.NaN);
    const latencies = await readLatencies(workDirectory);
    const requests = Number(processed[1]);
    return {
      requests,
      seconds: requests / tps,
      requestsPerSecond: tps,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      errors: failed + abortedClients,
      ok: requests,
      output,
    };
  } finally {
    await fs.rm(workDirectory, { recursive: true, force: true });
  }
}

/** Per-transaction latencies (ms) from pgbench's logs: `client transaction latency_us script epoch us`. */
async function readLatencies(directory: string): Promise<number[]> {
  const latencies: number[] = [];
  for (const file of await fs.readdir(directory)) {
    if (!file.startsWith("log")) continue;
    const text = await fs.readFile(path.join(directory, file), "utf8");
    for (const line of text.split("\n")) {
      const fields = line.split(" ");
      const microseconds = Number(fields[2]);
      // Failed transactions log "failed" instead of a latency; they are counted as errors.
      if (fields.length >= 6 && Number.isFinite(microseconds)) latencies.push(microseconds / 1000);
    }
  }
  return latencies;
}
