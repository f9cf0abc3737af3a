// `npm run bench:explain`: the query plans of the SQL that PostGraphile actually generates for
// each benchmark scenario, on a seeded bench database, and a check that none of them reads a
// tenant table (iam, crm, outreach, tracking) with a sequential scan (crystal#3041).
//
// The shipped preset and express app run in this process on a bench-only pool whose client
// records every statement; each scenario's request is sent once and its statements are replayed
// inside a transaction that is rolled back, with the same role and settings (the recorded
// set_config statement):
//   - EXPLAIN (ANALYZE, BUFFERS) with the request's values: the plan of a first execution;
//   - the same statement prepared with plan_cache_mode = force_generic_plan, then EXPLAIN
//     (ANALYZE, BUFFERS) EXECUTE: the generic plan PostgreSQL may switch to for PostGraphile's
//     named prepared statements after five executions;
//   - auto_explain (log_nested_statements) catches the plans of statements run inside functions
//     (computed columns such as performance, the RLS helpers, record_open), sent back as notices.
// Exit code 1 when a plan has a Seq Scan on a tenant table.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import type { Server } from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { postgraphile } from "postgraphile";
import { withDatabase } from "../src/db/connection-urls.ts";
import { findFreePort } from "../src/db/embedded-postgres.ts";
import { migrationsFolder } from "../src/db/migrations.ts";
import { ANONYMOUS_ROLE } from "../src/db/roles.ts";
import { createPreset } from "../src/graphql/preset.ts";
import { createHttpServer } from "../src/http/app.ts";
import { createLogger } from "../src/logger.ts";
import { readCommittedMigrations } from "../src/ops/committed-migrations.ts";
import { benchRoot, connectBenchCluster, ensureBenchDatabase } from "./bench-database.ts";
import { organisationStatistics } from "./explain-statistics.ts";
import { DEFAULT_PRESET, PRESET_NAMES, parsePreset } from "./presets.ts";
import { CREATED_EMAIL_DOMAIN, SCENARIOS, pixelToken, type Scenario, type ScenarioContext } from "./scenarios.ts";
import { deleteCreatedPeople, prepareBypassRole, prepareMembers, TOKEN_LIFETIME_SECONDS } from "./setup.ts";
import { BYPASS_ROLE } from "./variants/bypass-role.ts";
import { createRlsBypassPreset } from "./variants/rls-bypass-preset.ts";

const usage = `Usage: npm run bench:explain -- [--preset <name>] [--scenarios <a,b,…>] [--variant a|b] [--reseed]

Prints EXPLAIN (ANALYZE, BUFFERS) of the SQL PostGraphile generates for each benchmark scenario
(first-execution and generic plans, and the plans of statements inside functions), on the
preset's bench database (default ${DEFAULT_PRESET}; ${PRESET_NAMES.join(", ")}). Exits 1 when any plan reads
a tenant table of iam, crm, outreach or tracking with a sequential scan. The check is meant for
the large data set (the default): on quick's tables of a few pages a sequential scan is the
right plan and the check reports them all the same. The output is also written to
bench/results/explain-<preset>.txt. --variant b shows the plans of the benchmark's
RLS-bypassing variant instead (explicit organisation filters, no policies), for comparison;
the pixel scenario has no variant b and is left out.`;

const TENANT_SCHEMAS = ["iam", "crm", "outreach", "tracking"];
const SEQ_SCAN = /Seq Scan on (\w+)\.(\w+)/g;

interface Captured {
  text: string;
  values: unknown[];
}

/** A pool whose clients record every statement they are given. */
function recordingPool(connectionString: string, statements: Captured[]): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 2 });
  pool.on("connect", (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [first, second] = args;
      if (typeof first === "string") statements.push({ text: first, values: Array.isArray(second) ? second : [] });
      else if (first && typeof first === "object" && "text" in first) {
        const config = first as { text: string; values?: unknown[] };
        statements.push({ text: config.text, values: config.values ?? [] });
      }
      return query(...args);
    };
  });
  return pool;
}

// `set …`: a session setting, e.g. @dataplan/pg's `set jit_optimize_above_cost` on a new connection
// (a scenario with several root fields may open a second one).
const isControl = (text: string) => /^\s*(begin|commit|rollback|savepoint|release|deallocate|set)\b/i.test(text);
// The request's settings: `begin; select set_config('role', …), …` in the request's opening round
// trip (src/db/request-transaction.ts), or @dataplan/pg's own json_array_elements form.
const OPENING = /^\s*(?:set [^;]*;\s*)?begin;\s*(select set_config\([\s\S]*)$/i;
const isSettings = (text: string) => OPENING.test(text) || /set_config\(el->>0, el->>1, true\)/.test(text);
/** The settings statement alone, to run inside this tool's own transaction. */
const settingsOnly = (text: string) => OPENING.exec(text)?.[1] ?? text;

interface PlanReport {
  label: string;
  plan: string;
  seqScans: string[];
}

function seqScansIn(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(SEQ_SCAN)) {
    if (TENANT_SCHEMAS.includes(match[1]!)) found.add(`${match[1]}.${match[2]}`);
  }
  return [...found];
}

/** Plan text without the per-node Output lines VERBOSE adds (kept for schema-qualified names). */
function readable(plan: string): string {
  return plan
    .split("\n")
    .filter((line) => !/^\s*Output: /.test(line))
    .join("\n");
}

/** Nested plans from auto_explain notices, deduplicated by shape (timings and counts removed). */
function nestedPlans(notices: string[]): Array<{ plan: string; times: number }> {
  const byShape = new Map<string, { plan: string; times: number }>();
  for (const notice of notices) {
    const plan = notice.replace(/^duration: [\d.]+ ms\s+plan:\s*/s, "");
    // Same statement and plan, other row: parameters, literals, timings and counts differ.
    const shape = plan
      .replace(/^Query Parameters: .*$/gm, "")
      .replace(/'[^']*'/g, "'…'")
      .replace(/\(actual[^)]*\)/g, "")
      .replace(/Buffers: .*$/gm, "")
      .replace(/\d+(\.\d+)?/g, "#");
    const entry = byShape.get(shape);
    if (entry) entry.times += 1;
    else byShape.set(shape, { plan, times: 1 });
  }
  return [...byShape.values()];
}

async function explainStatement(
  rootDatabaseUrl: string,
  settings: Captured | undefined,
  role: string | undefined,
  statement: Captured,
  index: number,
): Promise<PlanReport[]> {
  const client = new pg.Client({ connectionString: rootDatabaseUrl });
  const notices: string[] = [];
  client.on("notice", (notice) => {
    if (notice.message?.startsWith("duration:")) notices.push(notice.message);
  });
  await client.connect();
  const reports: PlanReport[] = [];
  try {
    // Superuser only to load auto_explain; every statement below runs as the request's role.
    await client.query("load 'auto_explain'");
    // `work` runs the statement's EXPLAIN; it calls `measureFromHere` right before it, so that
    // only the notices of that EXPLAIN (its nested statements) are kept.
    const run = async (label: string, work: (measureFromHere: () => void) => Promise<string>) => {
      await client.query("begin");
      try {
        await client.query(
          `set local auto_explain.log_min_duration = 0; set local auto_explain.log_analyze = on;
           set local auto_explain.log_buffers = on; set local auto_explain.log_verbose = on;
           set local auto_explain.log_nested_statements = on; set local auto_explain.log_timing = on;
           set local client_min_messages = log`,
        );
        if (settings) await client.query(settingsOnly(settings.text), settings.values);
        if (role) await client.query(`set local role ${client.escapeIdentifier(role)}`);
        const plan = await work(() => {
          notices.length = 0;
        });
        // auto_explain logs the EXPLAINed statement itself too: only the nested ones are kept.
        const nested = nestedPlans(notices.filter((n) => !/Query Text:\s*(explain|execute)\b/i.test(n)));
        const nestedText = nested
          .map((n) => `-- inside a function, ${n.times}× this plan:\n${readable(n.plan)}`)
          .join("\n\n");
        reports.push({
          label,
          plan: readable(plan) + (nestedText ? `\n\n${nestedText}` : ""),
          seqScans: [...new Set([...seqScansIn(plan), ...nested.flatMap((n) => seqScansIn(n.plan))])],
        });
      } finally {
        await client.query("rollback");
      }
    };
    await run("first execution (custom plan)", async (measureFromHere) => {
      measureFromHere();
      const { rows } = await client.query<{ "QUERY PLAN": string }>({
        text: `explain (analyze, buffers, verbose) ${statement.text}`,
        values: statement.values,
      });
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    if (statement.values.length > 0) {
      await run("generic plan (plan_cache_mode = force_generic_plan)", async (measureFromHere) => {
        await client.query("set local plan_cache_mode = force_generic_plan");
        const name = `bench_explain_${index}`;
        // Prepared at protocol level, as PostGraphile does; this also executes it once, undone
        // by the savepoint so that a write can run again below.
        await client.query("savepoint before_prepare");
        await client.query({ name, text: statement.text, values: statement.values });
        await client.query("rollback to savepoint before_prepare");
        const literals = statement.values.map((v) =>
          v === null || v === undefined ? "null" : client.escapeLiteral(String(v)),
        );
        measureFromHere();
        const { rows } = await client.query<{ "QUERY PLAN": string }>(
          `explain (analyze, buffers, verbose) execute ${client.escapeIdentifier(name)}(${literals.join(", ")})`,
        );
        return rows.map((r) => r["QUERY PLAN"]).join("\n");
      });
    }
  } finally {
    await client.end();
  }
  return reports;
}

async function main(): Promise<number> {
  let values: { preset?: string; scenarios?: string; variant?: string; reseed?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        preset: { type: "string" },
        scenarios: { type: "string" },
        variant: { type: "string" },
        reseed: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const preset = parsePreset(values.preset ?? process.env.BENCH_PRESET, DEFAULT_PRESET);
  const variant = values.variant ?? "a";
  if (variant !== "a" && variant !== "b") {
    process.stderr.write(`--variant must be a or b\n\n${usage}\n`);
    return 2;
  }
  const wanted = values.scenarios?.split(",").map((s) => s.trim());
  // The pixel has no variant b: no GraphQL and no RLS in its path (record_open is security definer).
  const scenarios = (wanted ? SCENARIOS.filter((s) => wanted.includes(s.id)) : SCENARIOS).filter(
    (s) => variant === "a" || s.kind !== "pixel",
  );
  const output: string[] = [];
  const print = (line = "") => {
    output.push(line);
    process.stdout.write(`${line}\n`);
  };

  const cluster = await connectBenchCluster();
  let server: Server | undefined;
  let pool: pg.Pool | undefined;
  const problems: string[] = [];
  try {
    const { urls, seed } = await ensureBenchDatabase(cluster, preset, { reseed: values.reseed ?? false, log: print });
    const jwtSecret = randomBytes(48).toString("base64url");
    const members = await prepareMembers(urls.ownerUrl, jwtSecret);
    const today = new Date();
    const day = (offset: number) => new Date(today.getTime() - offset * 86_400_000).toISOString().slice(0, 10);
    const context: ScenarioContext = { members, pixelTokens: seed.pixelTokens, fromDay: day(29), toDay: day(0) };

    const statements: Captured[] = [];
    pool = recordingPool(
      variant === "a" ? urls.authenticatorUrl : await prepareBypassRole(cluster.rootUrl, urls.ownerUrl),
      statements,
    );
    const logger = createLogger("warn");
    const pgl = postgraphile(
      variant === "a"
        ? createPreset({
            authenticatorPool: pool,
            watch: undefined,
            graphiql: false,
            statementTimeoutMs: 60_000,
            tokens: { jwtSecret, lifetimeSeconds: TOKEN_LIFETIME_SECONDS },
          })
        : createRlsBypassPreset({ pool, statementTimeoutMs: 60_000, jwtSecret }),
    );
    await pgl.getSchema();
    server = await createHttpServer({
      pgl,
      authenticatorPool: pool,
      tokens: { jwtSecret, lifetimeSeconds: TOKEN_LIFETIME_SECONDS },
      logger,
      readiness: { pool, committed: readCommittedMigrations(migrationsFolder), logger },
    });
    const port = await findFreePort();
    await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", () => resolve()));
    const rootDatabaseUrl = withDatabase(cluster.rootUrl, new URL(urls.ownerUrl).pathname.slice(1));

    print(`# Query plans of the SQL PostGraphile generates — preset ${preset.name} (${preset.description})`);
    if (variant === "b")
      print("# Variant b: RLS bypassed, explicit organisation filters (for comparison; not the shipped API).");
    print(`# ${new Date().toISOString()}; a Seq Scan on a table of ${TENANT_SCHEMAS.join("/")} fails the check.`);
    for (const scenario of scenarios) {
      statements.length = 0;
      await sendOnce(`http://127.0.0.1:${port}`, scenario, context);
      // The recorded insert is replayed below: its person must not exist any more.
      if (scenario.kind === "write") await deleteCreatedPeople(urls.ownerUrl, CREATED_EMAIL_DOMAIN);
      const settings = statements.find((s) => isSettings(s.text));
      let data = statements.filter((s) => !isControl(s.text) && !isSettings(s.text));
      // Variant b's requests keep its login role (BYPASSRLS); a's set the visitor role in the settings.
      let role: string | undefined = variant === "b" ? BYPASS_ROLE : undefined;
      if (scenario.kind === "pixel") {
        // The endpoint sends one simple-protocol string; explain its function call as the anonymous role.
        role = ANONYMOUS_ROLE;
        data = [
          {
            text: "select app_hidden.record_open($1, $2::inet, $3)",
            values: [pixelToken(2), "127.0.0.1", "bench-explain"],
          },
        ];
      }
      print("");
      print(`${"=".repeat(100)}\n## ${scenario.id}: ${scenario.title}\n${"=".repeat(100)}`);
      for (const [index, statement] of data.entries()) {
        print(
          `\n### statement ${index + 1} of ${data.length}\n${statement.text.trim()}\n-- values: ${JSON.stringify(statement.values)}`,
        );
        const reports = await explainStatement(
          rootDatabaseUrl,
          scenario.kind === "pixel" ? undefined : settings,
          role,
          statement,
          index,
        );
        for (const report of reports) {
          print(`\n-- ${report.label}\n${report.plan}`);
          for (const table of report.seqScans) {
            const problem = `${scenario.id}, statement ${index + 1}, ${report.label}: Seq Scan on ${table}`;
            problems.push(problem);
            print(`!! ${problem}`);
          }
        }
      }
    }
    await deleteCreatedPeople(urls.ownerUrl, CREATED_EMAIL_DOMAIN);
    print("");
    print(`${"=".repeat(100)}\n## statistics: what the planner knows about organisation_id\n${"=".repeat(100)}`);
    for (const line of await organisationStatistics(urls.ownerUrl)) print(line);
    print("");
    if (problems.length === 0) print(`OK: no sequential scan on a tenant table in ${scenarios.length} scenarios.`);
    else
      print(
        `FAILED: ${problems.length} plan(s) read a tenant table with a sequential scan:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      );
    const file = path.join(benchRoot, "results", `explain-${preset.name}${variant === "b" ? "-variant-b" : ""}.txt`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, `${output.join("\n")}\n`);
    process.stdout.write(`(written to ${path.relative(process.cwd(), file)})\n`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await pool?.end();
    await cluster.database.stop();
  }
}

async function sendOnce(url: string, scenario: Scenario, context: ScenarioContext): Promise<void> {
  if (scenario.kind === "pixel") {
    // Not token 1: `npm run bench` checks that opening token 1 records an open, and a second open
    // from the same client within 60 seconds is a duplicate (app_hidden.record_open).
    await (await fetch(`${url}/t/${pixelToken(3)}.gif`)).arrayBuffer();
    return;
  }
  const graphql = scenario.graphql!;
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${context.members[scenario.member].token}`,
      "content-type": "application/json",
      accept: "application/json",
    },
    body: JSON.stringify({ query: graphql.query, variables: graphql.variables(context, 0) }),
  });
  const json = (await response.json()) as { errors?: unknown };
  if (response.status !== 200 || json.errors)
    throw new Error(`${scenario.id}: HTTP ${response.status} ${JSON.stringify(json).slice(0, 500)}`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:explain failed: ${(error as Error).stack ?? (error as Error).message}\n`);
    process.exit(1);
  },
);
