// README.md's "Building a dashboard" runs as pasted: every ```graphql block of that section is
// executed, operation by operation, against a database of its own holding only the demo data,
// signed in with the Login operation as maya@acme.test. GraphiQL's welcome document holds exactly
// these operations, so it cannot drift either.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Kind, parse, print, type OperationDefinitionNode } from "postgraphile/graphql";
import { afterAll, beforeAll, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { runCurrentMigrationOnce } from "../src/db/migrations.ts";
import { WELCOME_DOCUMENT } from "../src/graphql/ruru-welcome.ts";
import { createLogger } from "../src/logger.ts";
import type { RunningServer } from "../src/server.ts";
import { testDatabase } from "./helpers/database.ts";
import { graphql } from "./helpers/http-server.ts";
import { createScratchDatabase, type ScratchDatabase } from "./helpers/scratch-database.ts";
import { startServerFor } from "./helpers/server-for-database.ts";

function readmeOperations(): OperationDefinitionNode[] {
  const readme = readFileSync(path.join(projectRoot, "README.md"), "utf8");
  const section = readme.split("\n## Building a dashboard\n")[1]?.split("\n## ")[0];
  if (section === undefined) throw new Error('README.md has no "## Building a dashboard" section');
  const blocks = [...section.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((block) =>
    parse(block).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION),
  );
}

const operations = readmeOperations();
let database: ScratchDatabase;
let server: RunningServer;
let token: string;

beforeAll(async () => {
  database = await createScratchDatabase(testDatabase().serverRootUrl, "readme");
  await runCurrentMigrationOnce(database.urls, createLogger("silent"));
  server = await startServerFor(database.urls, { DEMO_DATA: "on" });
});

afterAll(async () => {
  await server?.close();
  await database?.drop();
});

it("shows named operations, starting with Login, and GraphiQL opens on exactly these", () => {
  expect(operations.length).toBeGreaterThanOrEqual(5);
  expect(operations[0]!.name?.value).toBe("Login");
  for (const operation of operations) expect(operation.name, print(operation)).toBeDefined();
  const welcome = parse(WELCOME_DOCUMENT).definitions.map((d) => print(d));
  expect(welcome).toEqual(operations.map((o) => print(o)));
});

it.each(operations.map((o) => [o.name!.value, o] as const))(
  "%s runs against the demo data",
  async (name, operation) => {
    const response = await graphql(server, print(operation), name === "Login" ? {} : { token });
    expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
    const data = response.body.data!;
    switch (name) {
      case "Login":
        token = data.login.token;
        expect(token).toMatch(/^ey/);
        break;
      case "ProspectList":
        // Léa appears twice in acme's demo people (statuses replied and new); never globex's.
        expect(data.people.totalCount).toBe(2);
        expect(data.people.nodes.map((n: { firstName: string }) => n.firstName)).toEqual(["Léa", "Léa"]);
        expect(data.people.nodes[0].email).toMatch(/@acme-prospects\.test$/);
        break;
      case "Searches":
        expect(data.bestMatches.nodes.map((n: { lastName: string }) => n.lastName)).toEqual([
          "Acme-Prospect-1",
          "Acme-Prospect-10",
          "Acme-Prospect-11",
          "Acme-Prospect-12",
        ]);
        expect(data.bySiren.nodes).toEqual([{ name: "Acme prospect company 1", siren: "100007919" }]);
        // Person n works at company 1 + (n - 1) % 5; only company 3 is in 62.01Z: people 3 and 8.
        expect(data.inSector.nodes.map((n: { lastName: string }) => n.lastName).sort()).toEqual([
          "Acme-Prospect-3",
          "Acme-Prospect-8",
        ]);
        break;
      case "StatusCounts": {
        const total = data.peopleStatusCounts.reduce((sum: number, r: { count: number }) => sum + r.count, 0);
        expect(total).toBe(12);
        expect(data.taskStatusCounts.length).toBe(5);
        break;
      }
      case "CampaignPage": {
        const [campaign] = data.campaigns.nodes;
        expect(campaign.name).toBe("Q4 logistics outreach");
        expect(campaign.performance.enrolled).toBe(12);
        expect(typeof campaign.performance.openRate).toBe("number");
        const active = campaign.enrollmentStateCounts.find((r: { state: string }) => r.state === "active");
        expect(campaign.campaignEnrollments.totalCount).toBe(active.count);
        break;
      }
      case "LastWeek":
        expect(data.dailyTotals).toHaveLength(7);
        break;
      default:
        throw new Error(`README operation ${name} has no expectation here: add one`);
    }
  },
);
