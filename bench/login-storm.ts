// `npm run bench:login-storm`: a storm of concurrent wrong logins (anonymous, one address) against
// the shipped server while another tenant's people page (bench scenario people-page) is measured,
// in four configurations: no storm; the storm with nothing bounding it (the behaviour before
// throttling: every login a bcrypt hash on a pooled connection); the storm with password hashing
// bounded per instance only (THROTTLING=off); and the server as shipped (throttling on too).
//
//   npm run bench:login-storm -- [--preset quick|full] [--seconds 10] [--storm 100] [--connections 4]
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { findFreePort } from "../src/db/embedded-postgres.ts";
import { connectBenchCluster, ensureBenchDatabase } from "./bench-database.ts";
import { runHttpLoad, type LoadMeasurement } from "./load/http-load.ts";
import { DEFAULT_PRESET, parsePreset } from "./presets.ts";
import { SCENARIOS } from "./scenarios.ts";
import { prepareMembers } from "./setup.ts";
import { startServerProcess } from "./variants/server-process.ts";

interface StormResult {
  attempts: number;
  /** Answers by extensions.code (or HTTP status when there is none). */
  codes: Record<string, number>;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

interface Configuration {
  name: string;
  storm: boolean;
  environment: Record<string, string>;
}

const CONFIGURATIONS: Configuration[] = [
  { name: "no storm", storm: false, environment: {} },
  {
    name: "storm, unbounded (before)",
    storm: true,
    environment: { THROTTLING: "off", PASSWORD_HASH_CONCURRENCY: "1000" },
  },
  { name: "storm, hashing bounded", storm: true, environment: { THROTTLING: "off" } },
  { name: "storm, as shipped", storm: true, environment: {} },
];

const log = (line: string) => process.stdout.write(`${line}\n`);

function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `workers` loops, each sending wrong logins back to back until the deadline. */
async function loginStorm(url: string, workers: number, seconds: number): Promise<StormResult> {
  const deadline = Date.now() + seconds * 1000;
  const codes: Record<string, number> = {};
  const latencies: number[] = [];
  const worker = async () => {
    while (Date.now() < deadline) {
      const started = performance.now();
      try {
        const response = await fetch(`${url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({
            query:
              'mutation($email: String!) { login(input: { email: $email, password: "wrong-password-1" }) { token } }',
            variables: { email: `storm-${randomBytes(6).toString("hex")}@example.test` },
          }),
        });
        const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
        const code = body.errors?.[0]?.extensions?.code ?? `HTTP ${response.status}`;
        codes[code] = (codes[code] ?? 0) + 1;
      } catch {
        codes.socket = (codes.socket ?? 0) + 1;
      }
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  latencies.sort((a, b) => a - b);
  return {
    attempts: latencies.length,
    codes,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

/**
 * The storm runs in a child process of its own: in the bench process, 100 busy fetch loops would
 * delay autocannon's own event loop and inflate the latencies it measures for the probe.
 */
function stormInChild(url: string, workers: number, seconds: number): Promise<StormResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), "--storm-worker", url, String(workers), String(seconds)],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => {
      if (code === 0) resolve(JSON.parse(output) as StormResult);
      else reject(new Error(`the storm process exited with ${code}`));
    });
  });
}

async function main(): Promise<number> {
  if (process.argv[2] === "--storm-worker") {
    const [url, workers, seconds] = process.argv.slice(3);
    process.stdout.write(JSON.stringify(await loginStorm(url!, Number(workers), Number(seconds))));
    return 0;
  }
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      preset: { type: "string" },
      seconds: { type: "string" },
      storm: { type: "string" },
      connections: { type: "string" },
      pool: { type: "string" },
    },
  });
  const preset = parsePreset(values.preset ?? process.env.BENCH_PRESET, DEFAULT_PRESET);
  const seconds = Number(values.seconds ?? 10);
  const stormWorkers = Number(values.storm ?? 100);
  const connections = Number(values.connections ?? 4);
  const poolMax = Number(values.pool ?? 10);
  const scenario = SCENARIOS.find((candidate) => candidate.id === "people-page")!;

  const cluster = await connectBenchCluster();
  try {
    const dataset = await ensureBenchDatabase(cluster, preset, { reseed: false, log });
    const jwtSecret = randomBytes(48).toString("base64url");
    const members = await prepareMembers(dataset.urls.ownerUrl, jwtSecret);
    const context = { members, pixelTokens: dataset.seed.pixelTokens, fromDay: "", toDay: "" };
    const rows: Array<{ configuration: Configuration; probe: LoadMeasurement; storm: StormResult | undefined }> = [];
    for (const configuration of CONFIGURATIONS) {
      const port = await findFreePort();
      const server = await startServerProcess({
        name: configuration.name,
        script: "src/main.ts",
        readyPath: "/readyz",
        port,
        environment: {
          NODE_ENV: "production",
          GRAPHILE_ENV: "production",
          HOST: "127.0.0.1",
          PORT: String(port),
          DATABASE_URL: dataset.urls.ownerUrl,
          AUTH_DATABASE_URL: dataset.urls.authenticatorUrl,
          JWT_SECRET: jwtSecret,
          MIGRATE_ON_START: "false",
          LOG_LEVEL: "fatal",
          DATABASE_POOL_MAX: String(poolMax),
          ...configuration.environment,
        },
      });
      try {
        const request = {
          method: "POST" as const,
          path: "/graphql",
          headers: {
            authorization: `Bearer ${members.large.token}`,
            "content-type": "application/json",
            accept: "application/json",
          },
          body: JSON.stringify({ query: scenario.graphql!.query, variables: scenario.graphql!.variables(context, 0) }),
        };
        // Warm-up: JIT, plan and statement caches.
        await runHttpLoad({ url: server.url, connections, seconds: 2, request });
        const [probe, storm] = await Promise.all([
          runHttpLoad({
            url: server.url,
            connections,
            seconds,
            request,
            checkBody: (body) => !body.includes('"errors"'),
          }),
          configuration.storm ? stormInChild(server.url, stormWorkers, seconds) : Promise.resolve(undefined),
        ]);
        rows.push({ configuration, probe, storm });
        log(
          `[login-storm] ${configuration.name}: people page p50 ${probe.p50Ms?.toFixed(1)} ms, p99 ${probe.p99Ms?.toFixed(1)} ms, ` +
            `${probe.requestsPerSecond.toFixed(0)} req/s, errors ${probe.errors}` +
            (storm ? `; storm ${storm.attempts} logins ${JSON.stringify(storm.codes)}` : ""),
        );
      } finally {
        await server.stop();
      }
    }
    log("");
    log(
      `Login storm (${stormWorkers} concurrent wrong logins from one address, ${seconds} s) against another tenant's ` +
        `people page (${connections} connections), preset ${preset.name}, pool ${poolMax}:`,
    );
    log("");
    log(
      "| configuration | people page p50 | p99 | req/s | errors | storm logins answered | storm answers by code | storm p99 |",
    );
    log("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
    const ms = (value: number | undefined) => (value === undefined ? "–" : `${value.toFixed(1)} ms`);
    for (const { configuration, probe, storm } of rows) {
      log(
        `| ${configuration.name} | ${ms(probe.p50Ms)} | ${ms(probe.p99Ms)} | ${probe.requestsPerSecond.toFixed(0)} | ${probe.errors} | ` +
          `${storm?.attempts ?? "–"} | ${
            storm
              ? Object.entries(storm.codes)
                  .map(([code, n]) => `${code} ${n}`)
                  .join(", ")
              : "–"
          } | ${ms(storm?.p99Ms)} |`,
      );
    }
    return 0;
  } finally {
    await cluster.database.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:login-storm failed: ${(error as Error).stack ?? (error as Error).message}\n`);
    process.exit(1);
  },
);
