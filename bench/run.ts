// `npm run bench`: seeds (or reuses) the bench databases, starts the variants side by side and
// measures every scenario against each of them, in interleaved rounds, on loopback. Writes
// bench/results/<time>/ (results.md, results.json, machine.md, chart.svg, chart.png), updates
// bench/results/latest.md and prints the table.
//
//   a) the API as shipped: `node src/main.ts`, NODE_ENV=production, RLS on, JWT verified
//   b) the same API with RLS bypassed and an explicit organisation filter (bench-only server)
//   c) express + pg running the same SQL by hand (bench-only server), RLS on
//   d) pgbench running that SQL against PostgreSQL
import { randomBytes, randomInt } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type { AutocannonRequest } from "autocannon";
import { databaseNameOf, withDatabase } from "../src/db/connection-urls.ts";
import { findFreePort } from "../src/db/embedded-postgres.ts";
import { ANONYMOUS_ROLE, VISITOR_ROLE } from "../src/db/roles.ts";
import { benchRoot, connectBenchCluster, ensureBenchDatabase, withClient, type SeedInfo } from "./bench-database.ts";
import { cpuSeconds, DatabaseCpuMeter, machineCpuSeconds } from "./load/cpu.ts";
import { runHttpLoad, type LoadMeasurement } from "./load/http-load.ts";
import { ensurePgbench, pgbenchVersion, runPgbench } from "./load/pgbench.ts";
import { BASELINE_PRESET, DEFAULT_PRESET, PRESET_NAMES, PRESETS, parsePreset, type Preset } from "./presets.ts";
import { besideSection, latestResultsFile, readOtherRun, type OtherRun } from "./report/beside.ts";
import { chartSvg, svgToPng } from "./report/chart.ts";
import { describeMachine, machineMarkdown, machineSummary } from "./report/machine.ts";
import { renderReport, resultsTable, ratiosTable, verdictTable } from "./report/markdown.ts";
import {
  findCell,
  smallOrganisationRatio,
  summariseCell,
  summariseScenario,
  verdicts as computeVerdicts,
  type BaselineSummaries,
  type Cell,
  type CellKey,
  type RoundMeasurement,
  type VariantId,
} from "./report/summary.ts";
import {
  CREATED_EMAIL_DOMAIN,
  FLOOD_PIXEL_NUMBER,
  SCENARIOS,
  TENANT_SETTINGS_SQL,
  pixelPgbenchScript,
  pixelToken,
  toPgbenchSql,
  type Member,
  type Scenario,
  type ScenarioContext,
} from "./scenarios.ts";
import { databaseBytes, formatBytes } from "./seed/seed.ts";
import { countOpenEvents, deleteCreatedPeople, prepareBypassRole, prepareMembers } from "./setup.ts";
import { CHILD_ENV } from "./variants/child-settings.ts";
import { startServerProcess, type ServerProcess } from "./variants/server-process.ts";
import { profileScenarios } from "./profile/profile-scenarios.ts";
import { documentHash } from "../src/documents/document-hash.ts";
import { documentKey } from "../src/documents/operations.ts";

const usage = `Usage: npm run bench -- [options]

Measures each scenario against the API as shipped (a), the API with RLS bypassed (b), a
hand-written express + pg endpoint (c) and pgbench (d), side by side, in interleaved rounds.

  --preset <name>        data set: ${PRESET_NAMES.join(", ")} (default ${DEFAULT_PRESET}, or BENCH_PRESET)
  --rounds <n>           rounds per variant and scenario (default 3); the report gives medians
  --seconds <n>          length of each measurement (default 5)
  --warmup <n>           warm-up seconds per variant and scenario before the rounds (default 2)
  --prime <n>            unrecorded seconds of the same load right before each measurement (default 1)
  --connections <n>      HTTP connections (default 16)
  --pool <n>             database connections of each server (default 10, the shipped default)
  --pgbench-clients <n>  pgbench clients (default: the same as --pool)
  --scenarios <a,b,…>    only these scenarios (${SCENARIOS.map((s) => s.id).join(", ")})
  --variants <a,b,…>     only these variants (a, b, c, d)
  --no-baseline          skip the 10-organisation data set (small-organisation target)
  --reseed               rebuild the data set even if an identical one exists
  --beside <file|none>   another run's results.json to set beside this one (default: for a preset
                         other than ${DEFAULT_PRESET}, the run bench/results/latest.md links to)
  --node-options=<flags> Node options for variant a (e.g. --node-options=--max-semi-space-size=16), to measure
                         V8 settings before shipping them (default: as the Dockerfile runs it)
  --document-ids         variant a names each registered document by its hash (documentId) instead
                         of sending its text
  --profile              after the rounds, a CPU profile of a (the shipped API) under each
                         scenario's load (--seconds long), saved with a reading in <out>/profiles/
  --out <folder>         where to write the results (default bench/results/<time>)`;

interface RunOptions {
  preset: Preset;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  /** Unrecorded seconds of the same cell right before each recorded one: a server idle while others were measured is busy again. */
  primeSeconds: number;
  connections: number;
  poolMax: number;
  pgbenchClients: number;
  scenarios: Scenario[];
  variants: VariantId[];
  baseline: boolean;
  reseed: boolean;
  /** Another run's results.json to report beside this one; null: none. */
  beside: string | null | undefined;
  outDirectory: string | undefined;
  /** CPU profiles of variant a per scenario after the rounds (bench/profile/). */
  profile: boolean;
  /** Extra Node options for variant a (V8 flags under test). */
  nodeOptions: string[];
  /** Variant a sends documentId (the registered hash) rather than the document's text. */
  documentIds: boolean;
}

function parseOptions(argv: string[]): RunOptions | { exitCode: number } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        preset: { type: "string" },
        rounds: { type: "string" },
        seconds: { type: "string" },
        warmup: { type: "string" },
        prime: { type: "string" },
        connections: { type: "string" },
        pool: { type: "string" },
        "pgbench-clients": { type: "string" },
        scenarios: { type: "string" },
        variants: { type: "string" },
        "no-baseline": { type: "boolean" },
        reseed: { type: "boolean" },
        beside: { type: "string" },
        out: { type: "string" },
        profile: { type: "boolean" },
        "node-options": { type: "string" },
        "document-ids": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    return { exitCode: 2 };
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return { exitCode: 0 };
  }
  const positive = (name: string, fallback: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number (got ${String(raw)})`);
    return value;
  };
  const wanted = typeof values.scenarios === "string" ? values.scenarios.split(",").map((s) => s.trim()) : undefined;
  const unknown = wanted?.filter((id) => !SCENARIOS.some((s) => s.id === id)) ?? [];
  if (unknown.length > 0) throw new Error(`Unknown scenario(s): ${unknown.join(", ")}`);
  const variants =
    typeof values.variants === "string" ? values.variants.split(",").map((v) => v.trim()) : ["a", "b", "c", "d"];
  if (variants.some((v) => !["a", "b", "c", "d"].includes(v)))
    throw new Error(`--variants takes a, b, c and d (got ${String(values.variants)})`);
  const poolMax = positive("pool", 10);
  return {
    preset: parsePreset(typeof values.preset === "string" ? values.preset : process.env.BENCH_PRESET, DEFAULT_PRESET),
    rounds: Math.max(1, positive("rounds", 3)),
    seconds: Math.max(1, positive("seconds", 5)),
    warmupSeconds: positive("warmup", 2),
    primeSeconds: positive("prime", 1),
    connections: Math.max(1, positive("connections", 16)),
    poolMax,
    pgbenchClients: Math.max(1, positive("pgbench-clients", poolMax)),
    scenarios: wanted ? SCENARIOS.filter((s) => wanted.includes(s.id)) : SCENARIOS,
    variants: variants as VariantId[],
    baseline: !values["no-baseline"],
    reseed: values.reseed === true,
    beside:
      values.beside === "none" ? null : typeof values.beside === "string" ? path.resolve(values.beside) : undefined,
    outDirectory: typeof values.out === "string" ? path.resolve(values.out) : undefined,
    profile: values.profile === true,
    documentIds: values["document-ids"] === true,
    nodeOptions:
      typeof values["node-options"] === "string" ? values["node-options"].split(/\s+/).filter((o) => o !== "") : [],
  };
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Which variants a scenario runs on: the pixel has no GraphQL and no RLS (a SECURITY DEFINER function). */
function variantsOf(scenario: Scenario): VariantId[] {
  return scenario.kind === "pixel" ? ["a", "d"] : ["a", "b", "c", "d"];
}

interface Servers {
  a: ServerProcess;
  b: ServerProcess;
  c: ServerProcess;
  /** The shipped API on the 10-organisation data set. */
  baseline: ServerProcess | undefined;
}

interface Dataset {
  urls: { ownerUrl: string; authenticatorUrl: string };
  seed: SeedInfo;
  context: ScenarioContext;
}

function memberOf(context: ScenarioContext, scenario: Scenario): Member {
  return context.members[scenario.member];
}

/** Set from --document-ids: variant a sends `documentId` instead of the document's text. */
let sendDocumentIds = false;

function httpRequest(
  scenario: Scenario,
  variant: "a" | "b" | "c",
  context: ScenarioContext,
): AutocannonRequest & {
  prepare?: (request: AutocannonRequest) => AutocannonRequest;
} {
  if (scenario.pixel === "flood") return { method: "GET", path: `/t/${pixelToken(FLOOD_PIXEL_NUMBER)}.gif` };
  if (scenario.kind === "pixel") {
    return {
      method: "GET",
      path: `/t/${pixelToken(1)}.gif`,
      prepare: (request) => ({ ...request, path: `/t/${pixelToken(randomInt(1, context.pixelTokens + 1))}.gif` }),
    };
  }
  const graphql = scenario.graphql!;
  const headers = {
    authorization: `Bearer ${memberOf(context, scenario).token}`,
    "content-type": "application/json",
    accept: "application/json",
  };
  const body = (n: number) => {
    const variables = graphql.variables(context, n);
    if (variant === "c") return JSON.stringify({ variables });
    // --document-ids: a names its registered document by hash, as a first-party client can.
    if (variant === "a" && sendDocumentIds)
      return JSON.stringify({ documentId: `sha256:${documentHash(documentKey(graphql.query))}`, variables });
    return JSON.stringify({ query: graphql.query, variables });
  };
  const requestPath = variant === "c" ? `/sql/${scenario.id}` : "/graphql";
  let counter = 0;
  return {
    method: "POST",
    path: requestPath,
    headers,
    body: body(0),
    // Writes need a new email each time; reads send the same body over and over.
    ...(scenario.kind === "write"
      ? { prepare: (request: AutocannonRequest) => ({ ...request, body: body(++counter) }) }
      : {}),
  };
}

function pgbenchJob(
  scenario: Scenario,
  context: ScenarioContext,
): {
  script: string;
  defines: Record<string, string>;
  protocol: "prepared" | "simple";
} {
  if (scenario.kind === "pixel") {
    return {
      script: pixelPgbenchScript(ANONYMOUS_ROLE, scenario.pixel),
      defines: { pixel_tokens: String(context.pixelTokens) },
      protocol: "simple",
    };
  }
  const sql = scenario.sql!;
  const member = memberOf(context, scenario);
  const job = sql.pgbench(context);
  const tenant = toPgbenchSql(TENANT_SETTINGS_SQL, [
    ":bench_role",
    ":bench_organisation",
    ":bench_user",
    ":bench_session",
    ":bench_timeout",
  ]);
  return {
    script: [
      ...job.setup,
      "BEGIN;",
      `${tenant};`,
      `${toPgbenchSql(sql.text, job.expressions).trim()};`,
      "COMMIT;",
    ].join("\n"),
    defines: {
      ...job.defines,
      bench_role: VISITOR_ROLE,
      bench_organisation: member.organisationId,
      bench_user: member.userId,
      bench_session: member.sessionId,
      bench_timeout: "15000",
    },
    protocol: "prepared",
  };
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if ("exitCode" in parsed) return parsed.exitCode;
  const options = parsed;
  const started = new Date();
  const stamp = started
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/:/g, "-");
  const outDirectory = options.outDirectory ?? path.join(benchRoot, "results", stamp);
  const notes: string[] = [];

  const cluster = await connectBenchCluster();
  try {
    log(`[bench] preset ${options.preset.name}: ${options.preset.description}`);
    const main = await ensureBenchDatabase(cluster, options.preset, { reseed: options.reseed, log });
    const wantsBaseline = options.baseline && options.scenarios.some((s) => s.id === "dashboard-small");
    const baselinePreset = PRESETS[BASELINE_PRESET];
    const baseline =
      wantsBaseline && options.preset.name !== BASELINE_PRESET
        ? await ensureBenchDatabase(cluster, baselinePreset, { reseed: false, log })
        : undefined;
    if (wantsBaseline && !baseline)
      notes.push("The preset is the 10-organisation one itself: the small-organisation comparison is skipped.");
    const pgbench = await ensurePgbench(log);
    const pgbenchText = await pgbenchVersion(pgbench);
    const mainBytes = await withClient(main.urls.ownerUrl, (client) => databaseBytes(client));
    const other = besideRun(options);
    if (other) log(`[bench] reporting beside the ${other.preset} run in ${path.relative(process.cwd(), other.file)}`);

    const jwtSecret = randomBytes(48).toString("base64url");
    const today = new Date();
    const day = (offset: number) => new Date(today.getTime() - offset * 86_400_000).toISOString().slice(0, 10);
    const contextFor = async (urls: { ownerUrl: string }, seed: SeedInfo): Promise<ScenarioContext> => ({
      members: await prepareMembers(urls.ownerUrl, jwtSecret),
      pixelTokens: seed.pixelTokens,
      fromDay: day(29),
      toDay: day(0),
    });
    const mainSet: Dataset = { ...main, context: await contextFor(main.urls, main.seed) };
    const baselineSet: Dataset | undefined = baseline
      ? { ...baseline, context: await contextFor(baseline.urls, baseline.seed) }
      : undefined;
    const bypassUrl = await prepareBypassRole(cluster.rootUrl, main.urls.ownerUrl);
    // Start from a clean slate: no backlog of dirty buffers (seeding, a migration) flushed mid-run,
    // and the data sets read into the OS page cache (this VM's host reclaims idle cache; a
    // production server keeps its working set in memory).
    await withClient(cluster.rootUrl, (client) => client.query("checkpoint"));
    for (const urls of [main.urls, ...(baseline ? [baseline.urls] : [])]) {
      const prewarmed = await prewarm(cluster.rootUrl, databaseNameOf(urls.ownerUrl));
      if (prewarmed === undefined)
        notes.push(`pg_prewarm is not available: ${databaseNameOf(urls.ownerUrl)} was not read into memory first.`);
      else
        log(
          `[bench] read ${(prewarmed / 128).toFixed(0)} MiB of ${databaseNameOf(urls.ownerUrl)} into the page cache (pg_prewarm)`,
        );
    }
    sendDocumentIds = options.documentIds;
    if (options.documentIds)
      notes.push("Variant a named its documents by hash (documentId), not by text (--document-ids).");
    if (options.nodeOptions.length > 0)
      notes.push(`Variant a ran with the Node options ${options.nodeOptions.join(" ")} (--node-options).`);
    const checkpointsBefore = await checkpointCount(cluster.rootUrl);
    const machine = await describeMachine(main.urls.ownerUrl, pgbenchText);

    log("[bench] starting the servers (a: src/main.ts, b: RLS bypassed, c: express + pg)");
    const metricsToken = randomBytes(24).toString("hex");
    const shippedEnvironment = async (urls: { ownerUrl: string; authenticatorUrl: string }) => {
      const port = await findFreePort();
      return {
        port,
        environment: {
          // As the Dockerfile runs it.
          NODE_ENV: "production",
          GRAPHILE_ENV: "production",
          HOST: "127.0.0.1",
          PORT: String(port),
          DATABASE_URL: urls.ownerUrl,
          AUTH_DATABASE_URL: urls.authenticatorUrl,
          JWT_SECRET: jwtSecret,
          MIGRATE_ON_START: "false",
          LOG_LEVEL: "warn",
          DATABASE_POOL_MAX: String(options.poolMax),
          // Trusted documents on, as in production: the bench's own operations are registered in
          // bench/documents (`npm run documents -- sync-bench`); the limits apply as well.
          TRUSTED_DOCUMENTS_DIRS: "bench/documents",
          // /metrics is scraped during the run (the pixel's counted and deduplicated opens).
          METRICS_TOKEN: metricsToken,
        },
      };
    };
    const childEnvironment = async (databaseUrl: string) => {
      const port = await findFreePort();
      return {
        port,
        environment: {
          NODE_ENV: "production",
          GRAPHILE_ENV: "production",
          [CHILD_ENV.databaseUrl]: databaseUrl,
          [CHILD_ENV.jwtSecret]: jwtSecret,
          [CHILD_ENV.port]: String(port),
          [CHILD_ENV.poolMax]: String(options.poolMax),
          [CHILD_ENV.statementTimeoutMs]: "15000",
        },
      };
    };
    const started_: ServerProcess[] = [];
    const start = async (
      name: string,
      script: string,
      readyPath: string,
      spec: { port: number; environment: Record<string, string>; nodeArguments?: string[] },
    ) => {
      const server = await startServerProcess({ name, script, readyPath, ...spec });
      started_.push(server);
      return server;
    };
    let cells: Cell[] = [];
    const inspectorPort = options.profile ? await findFreePort() : undefined;
    try {
      const servers: Servers = {
        a: await start("a (shipped API)", "src/main.ts", "/readyz", {
          ...(await shippedEnvironment(main.urls)),
          nodeArguments: [
            ...options.nodeOptions,
            ...(inspectorPort !== undefined ? [`--inspect=127.0.0.1:${inspectorPort}`] : []),
          ],
        }),
        b: await start(
          "b (RLS bypassed)",
          "bench/variants/rls-bypass-server.ts",
          "/healthz",
          await childEnvironment(bypassUrl),
        ),
        c: await start(
          "c (express + pg)",
          "bench/variants/plain-server.ts",
          "/healthz",
          await childEnvironment(main.urls.authenticatorUrl),
        ),
        baseline: baselineSet
          ? await start("a on 10 organisations", "src/main.ts", "/readyz", await shippedEnvironment(baselineSet.urls))
          : undefined,
      };

      const keys: CellKey[] = options.scenarios.flatMap((scenario) => [
        ...variantsOf(scenario)
          .filter((variant) => options.variants.includes(variant))
          .map((variant) => ({ scenario: scenario.id, variant, dataset: "main" as const })),
        ...(scenario.id === "dashboard-small" && servers.baseline
          ? (["a", "d"] as const)
              .filter((variant) => options.variants.includes(variant))
              .map((variant) => ({ scenario: scenario.id, variant, dataset: "baseline" as const }))
          : []),
      ]);
      cells = keys.map((key) => ({ ...key, rounds: [] }));

      const measure = async (key: CellKey, seconds: number): Promise<Omit<RoundMeasurement, "round">> => {
        const scenario = SCENARIOS.find((s) => s.id === key.scenario)!;
        const set = key.dataset === "baseline" ? baselineSet! : mainSet;
        const isPixel = scenario.kind === "pixel";
        const opensBefore = isPixel ? await countOpenEvents(set.urls.ownerUrl) : 0;
        const pixelBefore =
          isPixel && key.variant === "a" ? await scrapePixelOpens(servers.a.url, metricsToken) : undefined;
        const databaseCpu = new DatabaseCpuMeter(databaseNameOf(set.urls.ownerUrl));
        let measurement: LoadMeasurement;
        const extra: Partial<RoundMeasurement> = {};
        const machineBefore = machineCpuSeconds();
        if (key.variant === "d") {
          const job = pgbenchJob(scenario, set.context);
          databaseCpu.start();
          measurement = await runPgbench({
            binary: pgbench,
            url: set.urls.authenticatorUrl,
            clients: options.pgbenchClients,
            seconds,
            ...job,
          });
        } else {
          const server = key.dataset === "baseline" ? servers.baseline! : servers[key.variant];
          const serverCpuBefore = cpuSeconds(server.pid);
          const loadGeneratorBefore = process.cpuUsage();
          server.startRssWindow();
          databaseCpu.start();
          measurement = await runHttpLoad({
            url: server.url,
            connections: options.connections,
            seconds,
            request: httpRequest(scenario, key.variant, set.context),
            ...(isPixel ? {} : { checkBody: (body: string) => !body.includes('"errors"') }),
          });
          const peakRssBytes = server.endRssWindow();
          if (peakRssBytes !== undefined) extra.peakRssBytes = peakRssBytes;
          const serverCpuAfter = cpuSeconds(server.pid);
          if (serverCpuBefore !== undefined && serverCpuAfter !== undefined && measurement.requests > 0) {
            extra.serverCpuMs = ((serverCpuAfter - serverCpuBefore) * 1000) / measurement.requests;
          }
          const loadGenerator = process.cpuUsage(loadGeneratorBefore);
          if (measurement.requests > 0)
            extra.loadGeneratorCpuMs = (loadGenerator.user + loadGenerator.system) / 1000 / measurement.requests;
        }
        const databaseSeconds = databaseCpu.stop();
        if (measurement.requests > 0 && databaseSeconds > 0)
          extra.databaseCpuMs = (databaseSeconds * 1000) / measurement.requests;
        const machineAfter = machineCpuSeconds();
        if (machineBefore && machineAfter && machineAfter.total > machineBefore.total) {
          const busy = machineAfter.busy - machineBefore.busy;
          const total = machineAfter.total - machineBefore.total;
          const ours =
            databaseSeconds +
            (((extra.serverCpuMs ?? 0) + (extra.loadGeneratorCpuMs ?? 0)) * measurement.requests) / 1000;
          extra.machineBusyPercent = (100 * busy) / total;
          extra.otherProcessesPercent = Math.max(0, (100 * (busy - ours)) / total);
        }
        if (!isPixel) return { ...measurement, ...extra };
        await sleep(500); // let requests cut off at the end of the run finish
        const eventsWritten = (await countOpenEvents(set.urls.ownerUrl)) - opensBefore;
        if (pixelBefore !== undefined) {
          // The server says what it did with each hit: counted, or a duplicate (nothing written).
          const after = await scrapePixelOpens(servers.a.url, metricsToken);
          const handled = after.counted + after.duplicate - pixelBefore.counted - pixelBefore.duplicate;
          log(
            `[bench] ${scenario.id}: ${handled} opens handled, ${after.duplicate - pixelBefore.duplicate} duplicates, ${eventsWritten} events written`,
          );
          return { ...measurement, ...extra, lostOpens: measurement.ok - handled };
        }
        // pgbench: random opens come from random addresses and all count; a flood's do not.
        if (scenario.pixel === "flood") {
          log(`[bench] ${scenario.id} (d): ${eventsWritten} events written for ${measurement.ok} calls`);
          return { ...measurement, ...extra };
        }
        return { ...measurement, ...extra, lostOpens: measurement.ok - eventsWritten };
      };

      await validate(options.scenarios, servers, mainSet, baselineSet, pgbench);

      if (options.warmupSeconds > 0) {
        log(`[bench] warm-up: ${options.warmupSeconds} s per cell`);
        for (const key of keys) {
          if (key.dataset === "baseline" && key.variant === "a") {
            // The baseline server is measured on one scenario only; it is warmed up on all of them,
            // like the main one, so that both processes' code is as optimised (JIT) when measured.
            for (const scenario of options.scenarios) {
              await measure({ scenario: scenario.id, variant: "a", dataset: "baseline" }, options.warmupSeconds);
            }
          } else {
            await measure(key, options.warmupSeconds);
          }
        }
      }
      for (let round = 1; round <= options.rounds; round++) {
        log(`[bench] round ${round}/${options.rounds}`);
        for (const scenario of options.scenarios) {
          const scenarioKeys = keys.filter((k) => k.scenario === scenario.id);
          // Rotate the order each round so that drift (autovacuum, other load) hits every variant alike.
          const rotated = scenarioKeys.map((_k, i) => scenarioKeys[(i + round - 1) % scenarioKeys.length]!);
          for (const key of rotated) {
            if (options.primeSeconds > 0) await measure(key, options.primeSeconds);
            const result = await measure(key, options.seconds);
            findCell(cells, key)!.rounds.push({ round, ...result });
            log(
              `  ${key.scenario.padEnd(17)} ${key.variant}${key.dataset === "baseline" ? "@10" : "   "} ` +
                `${result.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${fmt(result.p50Ms)}  p99 ${fmt(result.p99Ms)}  ` +
                `errors ${result.errors}${result.lostOpens !== undefined ? `  lost opens ${Math.max(0, result.lostOpens)}` : ""}` +
                `${result.peakRssBytes ? `  rss ${(result.peakRssBytes / 1048576).toFixed(0)} MiB` : ""}` +
                `  cpu/req server ${fmtCpu(result.serverCpuMs)} db ${fmtCpu(result.databaseCpuMs)} load ${fmtCpu(result.loadGeneratorCpuMs)}` +
                `  machine busy ${result.machineBusyPercent?.toFixed(0) ?? "–"}%, others ${result.otherProcessesPercent?.toFixed(0) ?? "–"}%`,
            );
          }
        }
      }
      if (inspectorPort !== undefined) {
        await profileScenarios({
          port: inspectorPort,
          scenarios: options.scenarios.filter((scenario) => scenario.kind !== "pixel" || scenario.pixel === "random"),
          seconds: options.seconds,
          folder: path.join(outDirectory, "profiles"),
          load: async (scenario) =>
            (
              await runHttpLoad({
                url: servers.a.url,
                connections: options.connections,
                seconds: options.seconds,
                request: httpRequest(scenario, "a", mainSet.context),
              })
            ).requests,
          log,
        });
      }
    } finally {
      for (const server of started_) await server.stop();
      let removed = await deleteCreatedPeople(main.urls.ownerUrl, CREATED_EMAIL_DOMAIN);
      if (baseline) removed += await deleteCreatedPeople(baseline.urls.ownerUrl, CREATED_EMAIL_DOMAIN);
      if (removed > 0) log(`[bench] removed the ${removed} people created by the run`);
    }
    machine.loadAverageAtEnd = (await import("node:os")).loadavg();
    const others = cells
      .filter((c) => c.variant !== "d")
      .flatMap((c) =>
        c.rounds.map((r) => ({
          value: r.otherProcessesPercent,
          where: `${c.scenario} ${c.variant}${c.dataset === "baseline" ? "@10" : ""} round ${r.round}`,
        })),
      )
      .filter((o): o is { value: number; where: string } => o.value !== undefined)
      .sort((x, y) => x.value - y.value);
    if (others.length > 0) {
      const middle = others[Math.floor(others.length / 2)]!;
      const worst = others[others.length - 1]!;
      notes.push(
        `Other processes on this shared machine (not the server, its PostgreSQL backends or the load generator) used a median ` +
          `${middle.value.toFixed(0)}% of its CPU during the HTTP measurements, at most ${worst.value.toFixed(0)}% (${worst.where}); ` +
          "per round in results.json (otherProcessesPercent; PostgreSQL's background writers count as others). Rounds with more of it are slower: compare ratios within a round.",
      );
    }
    const checkpoints = (await checkpointCount(cluster.rootUrl)) - checkpointsBefore;
    if (!Number.isNaN(checkpoints)) {
      notes.push(
        `PostgreSQL ran ${checkpoints} checkpoint(s) during the measurements (the server's own settings: max_wal_size ` +
          "1 GB by default); writes (create-person, pixel-open) slow down while one flushes.",
      );
    }

    // Report.
    const summaries = options.scenarios.map((s) => summariseScenario(cells, s.id, s.kind));
    const baselineSummary: BaselineSummaries = {};
    for (const variant of ["a", "d"] as const) {
      const cell = findCell(cells, { scenario: "dashboard-small", variant, dataset: "baseline" });
      if (cell) baselineSummary[variant] = summariseCell(cell);
    }
    const smallRatio = smallOrganisationRatio(cells, "a");
    const smallRatioDatabase = smallOrganisationRatio(cells, "d");
    const populations = {
      organisations: options.preset.organisations,
      baselineOrganisations: baselinePreset.organisations,
    };
    const verdictList = computeVerdicts(summaries, smallRatio, undefined, populations);
    const totalRows = (seed: SeedInfo) =>
      Object.values(seed.rows)
        .reduce((a, b) => a + b, 0)
        .toLocaleString("en-GB");
    const method = [
      `Data set \`${options.preset.name}\` (${options.preset.description}; ${totalRows(main.seed)} rows in ${databaseNameOf(main.urls.ownerUrl)}, ` +
        `${formatBytes(mainBytes)} on disk), ` +
        `seeded by \`npm run bench:seed\` in ${main.seed.seconds.toFixed(0)} s${main.seed.seededNow ? " during this run" : ` on ${main.seed.seededAt} and reused`}.` +
        (baselineSet
          ? ` Baseline for the small organisation: \`${BASELINE_PRESET}\` (${baselinePreset.description}, ${databaseNameOf(baselineSet.urls.ownerUrl)}), ` +
            "with the same probe organisation (300 people; the same generated rows, dated from the day each set was seeded), served by a second shipped server (a) and pgbench (d); " +
            "that server is warmed up on every scenario, as the main one is, but then serves only this one."
          : ""),
      `${options.rounds} rounds; in each, every variant of every scenario runs ${options.seconds} s, variants in a rotated order; ` +
        `before the rounds, each runs ${options.warmupSeconds} s unrecorded (JIT, plan and statement caches), and every measurement is ` +
        `preceded by ${options.primeSeconds} s of the same load, unrecorded (a server that sat idle while the others were measured is busy ` +
        "again before it is timed). Figures are medians over rounds; " +
        "ratios are computed per round (both sides measured minutes apart at most) and then the median is taken.",
      `HTTP load: autocannon ${machine.packages.autocannon}, ${options.connections} keep-alive connections on loopback, in the bench process. ` +
        "Latency of every 2xx response; errors = socket errors + timeouts + non-2xx answers + GraphQL answers carrying `errors`.",
      `Servers are separate Node processes with ${options.poolMax} database connections each (the shipped default), straight to PostgreSQL ` +
        "(no PgBouncer). a) is `node src/main.ts` with NODE_ENV=production and GRAPHILE_ENV=production, as the Dockerfile runs it. " +
        "Peak RSS is the highest VmRSS sampled every 50 ms during the measurement.",
      "b) is bench/variants/rls-bypass-server.ts: the same express app and PostGraphile preset, but its pool logs in as a bench-only " +
        "role with BYPASSRLS (inheriting the visitor's grants), requests keep that role, and a `selectAuth` hook adds " +
        "`organisation_id = $n` (the token's organisation, as a query parameter) to every select of a tenant table. " +
        "So the GraphQL layer, the SQL shape and the JWT check are identical and only the policies are gone: a/b isolates RLS. " +
        "Column defaults (`organisation_id`) and write-permission checks inside functions still call the tenant helper.",
      "c) is bench/variants/plain-server.ts: express + pg, the same bearer-token check, one transaction per request with the same " +
        "settings PostGraphile applies (role prospectflow_visitor, organisation, user, session, statement_timeout) and then the " +
        "scenario's hand-written SQL (bench/scenarios.ts) as a named prepared statement; RLS applies. Its JSON equals the GraphQL " +
        "`data` of a) and b) (checked before measuring). a/c isolates the GraphQL layer.",
      `d) is pgbench (${pgbenchText}) with ${options.pgbenchClients} clients, 1 thread, -M prepared: BEGIN, the same set_config ` +
        "statement, the same SQL, COMMIT (as the authenticator). The pixel runs the endpoint's own single round trip " +
        "(BEGIN; SET LOCAL ROLE prospectflow_anonymous; SELECT app_hidden.record_open(…); COMMIT) with -M simple.",
      "The pixel scenario opens a random email of the last 7 days per request (seeded tokens are numbered newest first, " +
        "bench/seed/seed.sql; opens come soon after sending); pixel-flood hits one token from one client, so every hit after the " +
        "first is a duplicate that writes nothing. Lost opens (a) = 2xx answers minus the opens the server counted or deduplicated " +
        "(its /metrics, scraped around each measurement); with pgbench (d), random opens come from random addresses and must each " +
        "add a row to tracking.open_events. The pixel has no GraphQL and no RLS in its path " +
        "(record_open is SECURITY DEFINER), so b) and c) do not apply.",
      "CPU ms/request: user + system CPU of the server process (/proc/<pid>/stat) and of the PostgreSQL backends serving the bench " +
        "database (sampled every 100 ms), divided by the requests answered; the load generator's own CPU is in results.json.",
      "Before the warm-up, a checkpoint is forced and the data sets' tables and indexes are read into the OS page cache " +
        "(pg_prewarm, 'read' mode); PostgreSQL's own shared_buffers stay as the server configures them (256 MB embedded).",
      "Everything runs on one machine: PostgreSQL, the servers and the load generator share the cores, as the issue asks.",
    ];
    const chartFile = "chart.png";
    const title = `ProspectFlow API benchmark — ${options.preset.name} preset`;
    const report = renderReport({
      title,
      generatedAt: started.toISOString(),
      machineSummary: machineSummary(machine),
      method,
      scenarios: options.scenarios,
      summaries,
      baseline: baselineSummary,
      smallRatio,
      smallRatioDatabase,
      populations,
      ...(other
        ? {
            beside: besideSection({
              presetName: options.preset.name,
              organisations: options.preset.organisations,
              summaries,
              smallRatio,
              other,
              relativeFile: path.relative(outDirectory, other.file),
            }),
          }
        : {}),
      verdicts: verdictList,
      notes,
      chartFile,
    });
    await fs.mkdir(outDirectory, { recursive: true });
    const svg = chartSvg({
      title,
      subtitle: `${machine.cores} cores, ${options.connections} connections, medians of ${options.rounds} × ${options.seconds} s, ${started.toISOString().slice(0, 16)}Z`,
      summaries,
      baseline: baselineSummary,
    });
    await fs.writeFile(path.join(outDirectory, "chart.svg"), svg);
    await fs.writeFile(path.join(outDirectory, chartFile), svgToPng(svg));
    await fs.writeFile(path.join(outDirectory, "results.md"), report);
    await fs.writeFile(path.join(outDirectory, "machine.md"), machineMarkdown(machine));
    await fs.writeFile(
      path.join(outDirectory, "results.json"),
      `${JSON.stringify({ options: { ...options, scenarios: options.scenarios.map((s) => s.id), preset: options.preset }, machine, seed: main.seed, baselineSeed: baseline?.seed, cells, summaries, baseline: baselineSummary, smallRatio, smallRatioDatabase, verdicts: verdictList, databaseBytes: mainBytes, beside: other ? path.relative(outDirectory, other.file) : undefined }, null, 2)}\n`,
    );
    // latest.md is the default preset's: a complete run of another preset has its own folder only.
    const complete =
      options.outDirectory === undefined &&
      options.preset.name === DEFAULT_PRESET &&
      options.scenarios.length === SCENARIOS.length &&
      options.variants.length === 4 &&
      options.rounds >= 3;
    if (complete) {
      const relative = path.relative(path.join(benchRoot, "results"), outDirectory);
      const latest = report
        .replace(`](${chartFile})`, `](${relative}/${chartFile})`)
        .replace(
          "see machine.md.",
          `see [machine.md](${relative}/machine.md); raw figures in [results.json](${relative}/results.json).`,
        );
      await fs.writeFile(path.join(benchRoot, "results", "latest.md"), latest);
    }

    log("");
    log(resultsTable({ scenarios: options.scenarios, summaries, baseline: baselineSummary }));
    log("");
    log(ratiosTable(summaries));
    log("");
    log(verdictTable(verdictList));
    log("");
    log(
      `[bench] results in ${path.relative(process.cwd(), outDirectory)}/${complete ? " (and bench/results/latest.md)" : ""}`,
    );
    return 0;
  } finally {
    await cluster.database.stop();
  }
}

/** The run to report beside this one: --beside, or for a non-default preset the run latest.md links to (if of another preset). */
function besideRun(options: RunOptions): OtherRun | undefined {
  if (options.beside === null) return undefined;
  if (options.beside !== undefined) return readOtherRun(options.beside);
  if (options.preset.name === DEFAULT_PRESET) return undefined;
  const file = latestResultsFile(path.join(benchRoot, "results", "latest.md"));
  if (file === undefined) return undefined;
  const run = readOtherRun(file);
  return run.preset === options.preset.name ? undefined : run;
}

/** Reads the tenant schemas' tables and indexes into the OS page cache; the number of 8 kB blocks, or undefined without pg_prewarm. */
async function prewarm(rootUrl: string, database: string): Promise<number | undefined> {
  return withClient(withDatabase(rootUrl, database), async (client) => {
    try {
      await client.query("create extension if not exists pg_prewarm");
    } catch {
      return undefined;
    }
    const { rows } = await client.query<{ blocks: string }>(
      `select coalesce(sum(pg_prewarm(c.oid::regclass, 'read')), 0) as blocks
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('iam', 'crm', 'outreach', 'tracking') and c.relkind in ('r', 'i')`,
    );
    return Number(rows[0]!.blocks);
  });
}

/** Checkpoints started so far (timed and requested), from pg_stat_checkpointer (PostgreSQL 17+) or pg_stat_bgwriter. */
async function checkpointCount(rootUrl: string): Promise<number> {
  return withClient(rootUrl, async (client) => {
    try {
      const { rows } = await client.query<{ n: string }>(
        "select num_timed + num_requested as n from pg_stat_checkpointer",
      );
      return Number(rows[0]!.n);
    } catch {
      const { rows } = await client.query<{ n: string }>(
        "select checkpoints_timed + checkpoints_req as n from pg_stat_bgwriter",
      );
      return Number(rows[0]!.n);
    }
  });
}

const fmtCpu = (value: number | undefined) => (value === undefined ? "–" : `${value.toFixed(2)} ms`);
const fmt = (value: number | undefined) => (value === undefined ? "   –  " : `${value.toFixed(1).padStart(5)} ms`);

/** Sorted-key JSON, to compare answers regardless of key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** One request per variant and scenario before measuring: no errors, and a), b), c) answer the same. */
async function validate(
  scenarios: Scenario[],
  servers: Servers,
  mainSet: Dataset,
  baselineSet: Dataset | undefined,
  pgbench: string,
): Promise<void> {
  log("[bench] checking that every variant answers each scenario, and the same");
  const post = async (
    server: ServerProcess,
    scenario: Scenario,
    variant: "a" | "b" | "c",
    context: ScenarioContext,
  ) => {
    const request = httpRequest(scenario, variant, context);
    const body = request.prepare ? request.prepare(request).body : request.body;
    const response = await fetch(`${server.url}${request.path}`, {
      method: "POST",
      headers: request.headers,
      body: body ?? null,
    });
    const json = (await response.json()) as { data?: unknown; errors?: unknown };
    if (response.status !== 200 || json.errors) {
      throw new Error(`${scenario.id} on ${variant}: HTTP ${response.status} ${JSON.stringify(json).slice(0, 500)}`);
    }
    return json.data;
  };
  const comparable = (scenario: Scenario, data: unknown) => {
    if (scenario.kind !== "write") return canonical(data);
    const person = (data as { createPerson: { person: Record<string, unknown> } }).createPerson.person;
    return canonical({ ...person, id: typeof person.id, email: typeof person.email });
  };
  for (const scenario of scenarios) {
    if (scenario.pixel === "flood") {
      const before = await countOpenEvents(mainSet.urls.ownerUrl);
      for (let i = 0; i < 3; i++)
        await (await fetch(`${servers.a.url}/t/${pixelToken(FLOOD_PIXEL_NUMBER)}.gif`)).arrayBuffer();
      const written = (await countOpenEvents(mainSet.urls.ownerUrl)) - before;
      if (written > 1) throw new Error(`pixel-flood: 3 hits of one token from one client wrote ${written} events`);
    } else if (scenario.kind === "pixel") {
      const before = await countOpenEvents(mainSet.urls.ownerUrl);
      const response = await fetch(`${servers.a.url}/t/${pixelToken(1)}.gif`);
      await response.arrayBuffer();
      const after = await countOpenEvents(mainSet.urls.ownerUrl);
      if (response.status !== 200 || after !== before + 1)
        throw new Error(`pixel-open: HTTP ${response.status}, ${after - before} open(s) recorded instead of 1`);
    } else {
      const answers = {
        a: await post(servers.a, scenario, "a", mainSet.context),
        b: await post(servers.b, scenario, "b", mainSet.context),
        c: await post(servers.c, scenario, "c", mainSet.context),
      };
      for (const variant of ["b", "c"] as const) {
        const [expected, actual] = [comparable(scenario, answers.a), comparable(scenario, answers[variant])];
        if (actual !== expected) {
          // Where they part: the first differing character, with some context before it.
          let at = 0;
          while (at < expected.length && expected[at] === actual[at]) at++;
          const from = Math.max(0, at - 300);
          throw new Error(
            `${scenario.id}: variant ${variant} answers differently from a (from character ${at}):\n a: …${expected.slice(from, at + 300)}\n ${variant}: …${actual.slice(from, at + 300)}`,
          );
        }
      }
      if (scenario.id === "dashboard-small" && servers.baseline && baselineSet)
        await post(servers.baseline, scenario, "a", baselineSet.context);
    }
    const job = pgbenchJob(scenario, mainSet.context);
    const check = await runPgbench({
      binary: pgbench,
      url: mainSet.urls.authenticatorUrl,
      clients: 1,
      seconds: 1,
      transactionsPerClient: 1,
      ...job,
    });
    if (check.errors > 0 || check.requests !== 1)
      throw new Error(`${scenario.id} on pgbench failed:\n${check.output.trim()}`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? (error as Error).message}\n`);
    process.exit(1);
  },
);

/** The pixel counters of a server's /metrics (prospectflow_pixel_opens_total by outcome). */
async function scrapePixelOpens(url: string, token: string): Promise<{ counted: number; duplicate: number }> {
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`/metrics: HTTP ${response.status} ${text.slice(0, 200)}`);
  const value = (outcome: string) =>
    Number(new RegExp(`^prospectflow_pixel_opens_total\\{outcome="${outcome}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return { counted: value("counted"), duplicate: value("duplicate") };
}
