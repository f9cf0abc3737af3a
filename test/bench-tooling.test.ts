// A few seconds' smoke test of the benchmark tooling (bench/), not a benchmark: the hand-written
// SQL of every scenario (variants c and d) answers exactly what the GraphQL operation (variants a
// and b) answers, on a small organisation; and the report's arithmetic, tables and chart work.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { besideSection, type OtherRun } from "../bench/report/beside.ts";
import { organisationStatistics } from "../bench/explain-statistics.ts";
import { comparePlans, parseExplainOutput } from "../bench/report/plan-shapes.ts";
import { PRESETS, type Preset } from "../bench/presets.ts";
import { readSeedPhases, seedDatabase } from "../bench/seed/seed.ts";
import { MEMBER_ORGANISATIONS } from "../bench/setup.ts";
import { runCurrentMigrationOnce } from "../src/db/migrations.ts";
import { createLogger } from "../src/logger.ts";
import {
  PIXEL_TOKEN_PREFIX,
  SCENARIOS,
  TENANT_SETTINGS_SQL,
  pixelToken,
  toPgbenchSql,
  type ScenarioContext,
} from "../bench/scenarios.ts";
import { chartSvg, svgToPng } from "../bench/report/chart.ts";
import { resultsTable } from "../bench/report/markdown.ts";
import { roundRatio, summariseScenario, verdicts, type Cell } from "../bench/report/summary.ts";
import { percentile, median } from "../bench/load/stats.ts";
import type { RunningServer } from "../src/server.ts";
import { asMember, createOrganisation, ownerPool, testDatabase, type TestOrganisation } from "./helpers/database.ts";
import { createScratchDatabase } from "./helpers/scratch-database.ts";
import { graphql, startTestServer } from "./helpers/http-server.ts";
import { memberToken } from "./helpers/tokens.ts";

const owner = ownerPool();
let org: TestOrganisation;
let server: RunningServer;
let context: ScenarioContext;

/** A campaign with steps, an A/B test and figures, and people with positions at companies. */
async function fillOrganisation(organisationId: string): Promise<void> {
  const id = () => randomUUID();
  const company = id();
  await owner.query(
    "insert into crm.companies (organisation_id, id, name, siren) values ($1, $2, 'Bench Co', '552100554')",
    [organisationId, company],
  );
  for (let n = 0; n < 3; n++) {
    const person = id();
    await owner.query(
      "insert into crm.people (organisation_id, id, first_name, last_name, email, status) values ($1, $2, $3, 'Dupont', $4, 'contacted')",
      [organisationId, person, `P${n}`, `p${n}-${person}@bench.test`],
    );
    await owner.query(
      "insert into crm.positions (organisation_id, person_id, company_id, job_title) values ($1, $2, $3, 'CEO')",
      [organisationId, person, company],
    );
  }
  const campaign = id();
  const step = id();
  const experiment = id();
  const variant = id();
  await owner.query(
    "insert into outreach.campaigns (organisation_id, id, name, status) values ($1, $2, 'Bench', 'active')",
    [organisationId, campaign],
  );
  await owner.query(
    "insert into outreach.workflow_steps (organisation_id, id, campaign_id, step_index, name) values ($1, $2, $3, 0, 'Intro')",
    [organisationId, step, campaign],
  );
  await owner.query(
    "insert into outreach.step_experiments (organisation_id, id, workflow_step_id, name, status) values ($1, $2, $3, 'Subject', 'running')",
    [organisationId, experiment, step],
  );
  await owner.query(
    "insert into outreach.step_experiment_variants (organisation_id, id, step_experiment_id, key) values ($1, $2, $3, 'A')",
    [organisationId, variant, experiment],
  );
  await owner.query(
    `insert into tracking.campaign_daily_stats (organisation_id, campaign_id, day, enrolled, emails_sent, emails_opened)
     values ($1, $2, current_date, 3, 3, 1), ($1, $2, current_date - 40, 1, 1, 1)`,
    [organisationId, campaign],
  );
  await owner.query(
    "insert into tracking.variant_stats (organisation_id, step_experiment_id, variant_id, assigned, emails_sent, emails_opened) values ($1, $2, $3, 3, 3, 1)",
    [organisationId, experiment, variant],
  );
}

beforeAll(async () => {
  org = await createOrganisation(owner, "bench-smoke");
  await fillOrganisation(org.id);
  server = await startTestServer();
  const member = {
    organisationId: org.id,
    userId: org.users.member,
    sessionId: org.sessions.member,
    token: memberToken(org, "member", 300),
  };
  const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
  context = { members: { large: member, probe: member }, pixelTokens: 1, fromDay: day(29), toDay: day(0) };
  // Enrolments for the campaign page's scenario, through the API (their tasks are queued by triggers).
  const { rows: enrol } = await owner.query<{ campaign: string; position: string }>(
    `select c.id as campaign, p.id as position from outreach.campaigns c join crm.positions p using (organisation_id)
      where c.organisation_id = $1`,
    [org.id],
  );
  for (const { campaign, position } of enrol) {
    const response = await graphql(
      server,
      `
        mutation ($c: UUID!, $p: UUID!) {
          createCampaignEnrollment(input: { campaignEnrollment: { campaignId: $c, positionId: $p } }) {
            campaignEnrollment {
              id
            }
          }
        }
      `,
      { token: member.token, variables: { c: campaign, p: position } },
    );
    expect(response.body.errors).toBeUndefined();
  }
});

afterAll(async () => {
  await server?.close();
  await owner.end();
});

describe("every scenario's SQL answers what its GraphQL operation answers", () => {
  for (const scenario of SCENARIOS.filter((s) => s.graphql && s.sql && s.kind === "read")) {
    it(scenario.id, async () => {
      const graphqlQuery = scenario.graphql!;
      const variables = graphqlQuery.variables(context, 0);
      const response = await graphql(server, graphqlQuery.query, { variables, token: context.members.large.token });
      expect(response.body.errors).toBeUndefined();
      const sqlAnswer = await asMember(owner, { organisationId: org.id, userId: org.users.member }, async (client) => {
        const { rows } = await client.query(scenario.sql!.text, scenario.sql!.params(variables));
        return rows[0].result;
      });
      expect(sqlAnswer).toEqual(response.body.data);
      expect(JSON.stringify(sqlAnswer)).not.toMatch(/"nodes":\[\]\}\}$/); // the organisation has data to show
    });
  }

  it("create-person", async () => {
    const scenario = SCENARIOS.find((s) => s.id === "create-person")!;
    const response = await graphql(server, scenario.graphql!.query, {
      variables: scenario.graphql!.variables(context, 1),
      token: context.members.large.token,
    });
    expect(response.body.errors).toBeUndefined();
    const created = await asMember(owner, { organisationId: org.id, userId: org.users.member }, async (client) => {
      const { rows } = await client.query(
        scenario.sql!.text,
        scenario.sql!.params(scenario.graphql!.variables(context, 2)),
      );
      return rows[0].result;
    });
    const shape = (answer: { createPerson: { person: Record<string, unknown> } }) => ({
      ...answer.createPerson.person,
      id: "…",
      email: "…",
    });
    expect(shape(created)).toEqual(shape(response.body.data as never));
  });
});

it("pgbench scripts get an expression for every parameter, and pixel tokens have the token format", () => {
  expect(toPgbenchSql(TENANT_SETTINGS_SQL, [":a", ":b", ":c", ":d", ":e"])).not.toMatch(/\$\d/);
  for (const scenario of SCENARIOS.filter((s) => s.sql)) {
    const job = scenario.sql!.pgbench(context);
    expect(toPgbenchSql(scenario.sql!.text, job.expressions), scenario.id).not.toMatch(/\$\d/);
  }
  expect(pixelToken(42)).toMatch(/^[A-Za-z0-9_-]{32}$/);
  expect(pixelToken(42).startsWith(PIXEL_TOKEN_PREFIX)).toBe(true);
});

it("the seed file splits into named phases", () => {
  const phases = readSeedPhases();
  expect(phases.map((p) => p.name)).toContain("people");
  expect(new Set(phases.map((p) => p.name)).size).toBe(phases.length);
  expect(phases.every((p) => p.sql.length > 0)).toBe(true);
});

it("ratios are per-round medians; the report renders a table and a PNG chart", () => {
  expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
  expect(
    percentile(
      [...Array(100).keys()].map((n) => n + 1),
      99,
    ),
  ).toBe(99);
  expect(median([1, 3, 2, 10])).toBe(2.5);
  const round = (round: number, requestsPerSecond: number) => ({
    round,
    requestsPerSecond,
    requests: requestsPerSecond * 5,
    seconds: 5,
    p50Ms: 10,
    p99Ms: 50,
    errors: 0,
    ok: 1,
  });
  const cells: Cell[] = [
    { scenario: "people-page", variant: "a", dataset: "main", rounds: [round(1, 90), round(2, 100), round(3, 80)] },
    { scenario: "people-page", variant: "b", dataset: "main", rounds: [round(1, 100), round(2, 100), round(3, 100)] },
    { scenario: "people-page", variant: "c", dataset: "main", rounds: [round(1, 300), round(2, 100), round(3, 160)] },
  ];
  expect(roundRatio(cells[0], cells[1])).toBeCloseTo(0.9);
  const summary = summariseScenario(cells, "people-page", "read");
  expect(summary.ratios.ac).toBeCloseTo(0.5); // 0.3, 1, 0.5 per round
  const list = verdicts([summary], 1.1);
  expect(list.find((v) => v.target.startsWith("RLS"))?.met).toBe(true);
  expect(list.find((v) => v.target.startsWith("p99"))?.met).toBe(true);
  expect(resultsTable({ scenarios: SCENARIOS, summaries: [summary], baseline: {} })).toContain(
    "| people-page | a API | 90 |",
  );
  const png = svgToPng(chartSvg({ title: "smoke", subtitle: "test", summaries: [summary], baseline: {} }));
  expect(png.subarray(1, 4).toString()).toBe("PNG");
});

it("the small-organisation target names the preset's organisation count; another run's figures are set beside", () => {
  const round = (requestsPerSecond: number) => ({
    round: 1,
    requestsPerSecond,
    requests: requestsPerSecond * 5,
    seconds: 5,
    p50Ms: 10,
    p99Ms: 40,
    errors: 0,
    ok: 1,
    serverCpuMs: 1,
    databaseCpuMs: 0.5,
  });
  const summary = summariseScenario(
    [{ scenario: "people-page", variant: "a", dataset: "main", rounds: [round(450)] }],
    "people-page",
    "read",
  );
  const small = (list: ReturnType<typeof verdicts>) => list.find((v) => v.target.startsWith("Small"))!;
  expect(
    small(verdicts([summary], 1.3, undefined, { organisations: 10_000, baselineOrganisations: 10 })),
  ).toMatchObject({
    target: expect.stringContaining("among 10,000 as among 10") as string,
    met: false,
  });
  expect(small(verdicts([summary], 1.1)).target).toContain("among 1,000 as among 10");
  const other: OtherRun = {
    file: "/tmp/results.json",
    preset: "full",
    organisations: 1_000,
    generatedAt: "2026-12-01T14:04:05Z",
    summaries: [
      summariseScenario(
        [{ scenario: "people-page", variant: "a", dataset: "main", rounds: [round(500)] }],
        "people-page",
        "read",
      ),
    ],
    baseline: {},
    smallRatio: 0.9,
  };
  const section = besideSection({
    presetName: "scale",
    organisations: 10_000,
    summaries: [summary],
    smallRatio: 1.05,
    other,
    relativeFile: "../x/results.json",
  });
  expect(section).toContain("| people-page | a API | 500 | 450 | 0.90 | 40.0 | 40.0 | 1.00 · 0.50 | 1.00 · 0.50 |");
  expect(section).toContain("1.050 here (10,000), 0.900 in the `full` run (1,000)");
});

it("plan shapes: costs, counts and InitPlan numbers do not count, another node or index does", () => {
  const output = (index: string, rows: number, initPlan: number) => `
## people-page: People page
### statement 1 of 1
select 1
-- values: ["x"]

-- first execution (custom plan)
Limit  (cost=0.71..${rows}.5 rows=${rows} width=8) (actual time=0.1..0.2 rows=${rows}.00 loops=1)
  Buffers: shared hit=${rows}
  InitPlan ${initPlan}
    ->  Result  (cost=0.00..0.29 rows=1 width=16) (actual time=0.004..0.004 rows=1.00 loops=1)
  ->  Index Scan using ${index} on crm.people __people__  (cost=0.42..8.44 rows=${rows} width=36)
        Index Cond: (__people__.organisation_id = (InitPlan ${initPlan}).col1)

-- inside a function, ${rows}× this plan:
Query Text: select 1
Result  (cost=0.00..0.01 rows=1 width=4) (actual time=0.001..0.001 rows=1.00 loops=1)
  One-Time Filter: ((InitPlan ${initPlan}).col1 = 'x'::uuid)

OK: no sequential scan on a tenant table in 1 scenarios.
`;
  const base = parseExplainOutput(output("idx_people_status", 50, 1));
  expect([...base.keys()]).toEqual(["people-page · statement 1 · first execution"]);
  expect(base.get("people-page · statement 1 · first execution")!.main).toHaveLength(4);
  expect(comparePlans(base, parseExplainOutput(output("idx_people_status", 7, 9)))).toEqual({
    compared: 1,
    same: 1,
    differences: [],
  });
  const changed = comparePlans(base, parseExplainOutput(output("people_pkey", 50, 1)));
  expect(changed.same).toBe(0);
  expect(changed.differences[0]!.detail).toContain("people_pkey");
});

describe("the scale preset's seed, at a tiny size", () => {
  // The scale preset's shape (a large organisation, small ones of 20–150 people, the probe)
  // with 40 organisations, in a database of its own (seeding locks every tenant table).
  const tiny: Preset = { ...PRESETS.scale, organisations: 40, large: 1, largePeople: 400 };
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;

  afterAll(async () => {
    await scratch?.drop();
  });

  it("seeds every phase, keeps the schema's keys and indexes, and sizes the organisations as the preset says", async () => {
    expect(PRESETS.scale.organisations).toBe(10_000);
    scratch = await createScratchDatabase(testDatabase().urls.rootUrl, "scaleseed");
    await runCurrentMigrationOnce(scratch.urls, createLogger("silent"));
    const lines: string[] = [];
    // seedDatabase compares the rebuilt foreign keys and indexes with the migrated schema's and throws if they differ.
    const summary = await seedDatabase(scratch.urls.ownerUrl, tiny, "test", (line) => lines.push(line));
    expect(summary.rows["iam.organisations"]).toBe(40);
    expect(summary.phases.map((p) => p.name)).toEqual(readSeedPhases().map((p) => p.name));
    expect(lines.filter((line) => /^\[seed\] +\d+\/\d+ /.test(line))).toHaveLength(summary.phases.length);
    expect(lines.at(-1)).toMatch(/rows in \d+ s, \d+ MiB on disk$/);
    const client = new pg.Client({ connectionString: scratch.urls.ownerUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ slug: string; people: string }>(
        `select o.slug, count(p.id) as people from iam.organisations o
           left join crm.people p on p.organisation_id = o.id group by o.slug`,
      );
      const people = new Map(rows.map((r) => [r.slug, Number(r.people)]));
      expect(people.get(MEMBER_ORGANISATIONS.large)).toBe(400);
      expect(people.get(MEMBER_ORGANISATIONS.probe)).toBe(300);
      const small = rows.filter((r) => /^bench-org-\d+$/.test(r.slug) && r.slug !== MEMBER_ORGANISATIONS.large);
      expect(small).toHaveLength(38);
      for (const r of small) expect(Number(r.people)).toBeGreaterThanOrEqual(20);
      for (const r of small) expect(Number(r.people)).toBeLessThanOrEqual(150);
      // The dashboard's figures agree with the rows they count, in every organisation.
      const { rows: mismatches } = await client.query(
        `select c.organisation_id from outreach.campaigns c
           left join lateral (select coalesce(sum(emails_sent), 0) as sent from tracking.campaign_daily_stats d
                               where d.organisation_id = c.organisation_id and d.campaign_id = c.id) d on true
           left join lateral (select count(*) as sent from outreach.messages m
                               where m.organisation_id = c.organisation_id and m.campaign_id = c.id and m.direction = 'outbound') m on true
          where d.sent <> m.sent`,
      );
      expect(mismatches).toEqual([]);
      const { rows: sent } = await client.query<{ n: string }>("select count(*) as n from outreach.messages");
      expect(Number(sent[0]!.n)).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
    // bench:explain's statistics section: the planner's view of organisation_id against the rows.
    const statistics = await organisationStatistics(scratch.urls.ownerUrl);
    const people = statistics.find((line) => line.startsWith("crm.people |"))!.split(" | ");
    expect(people[2]).toMatch(/^\d+ \/ 40$/); // estimated / real distinct organisations
    expect(people.slice(5)).toEqual(["300", "400"]); // the probe's rows, the large organisation's
  });
});
