// README.md's ```graphql examples outside "Building a dashboard" (which test/dashboard-readme.test.ts
// runs), executed in README order against a database of their own holding only the demo data, each
// as the demo user its section signs in as, with variables taken from the answers before it or the
// demo data. The plan below lists the README's root fields in order: a new or reordered example
// fails the first test until it is planned here. Skipped by design, with the reason: only the
// operations whose token exists only in a mail.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Kind, parse, print, type FieldNode, type OperationDefinitionNode } from "postgraphile/graphql";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { runCurrentMigrationOnce } from "../src/db/migrations.ts";
import { createLogger } from "../src/logger.ts";
import type { RunningServer } from "../src/server.ts";
import { testDatabase } from "./helpers/database.ts";
import { graphql } from "./helpers/http-server.ts";
import { createScratchDatabase, type ScratchDatabase } from "./helpers/scratch-database.ts";
import { startServerFor } from "./helpers/server-for-database.ts";

type Data = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- answers vary per operation
interface Context {
  values: Record<string, string>;
  tokens: Record<string, string>;
  owner: pg.Pool;
}
interface Step {
  field: string;
  /** Who sends it: a demo user's email (signed in with the demo password), or nobody. */
  as?: string | "anonymous";
  variables?: (context: Context) => Promise<Record<string, unknown>> | Record<string, unknown>;
  after?: (data: Data, context: Context) => void | Promise<void>;
  skip?: string;
}

const FROM_MAIL = "its token exists only in the mail (npm run mail:list shows it), never in an answer";
const demoId = async (context: Context, sql: string, parameters: unknown[] = []) =>
  String((await context.owner.query(sql, parameters)).rows[0].id);

/** README order. `as` defaults to the section's user: maya in "Try it", olivia in "Accounts". */
const PLAN: Step[] = [
  { field: "login", as: "anonymous", after: (d) => expect(d.login.token).toMatch(/^ey/) },
  { field: "people", after: (d) => expect(d.people.totalCount).toBeGreaterThan(0) },
  { field: "companies", after: (d) => expect(d.companies.nodes.length).toBeGreaterThan(0) },
  { field: "createCompany", after: (d, c) => void (c.values.company = d.createCompany.company.id) },
  { field: "createPerson", after: (d, c) => void (c.values.person = d.createPerson.person.id) },
  { field: "createPosition", variables: (c) => ({ person: c.values.person, company: c.values.company }) },
  {
    field: "person",
    variables: (c) => ({ id: c.values.person }),
    after: (d) => expect(d.person.positions.nodes[0].company.name).toBe("Dupont Logistique"),
  },
  {
    field: "updatePerson",
    variables: (c) => ({ id: c.values.person }),
    after: (d) => expect(d.updatePerson.person.status).toBe("contacted"),
  },
  { field: "deletePerson", variables: (c) => ({ id: c.values.person }) },
  { field: "campaigns", variables: () => ({ from: "2020-01-01", to: "2030-12-31" }) },
  { field: "createCampaign", after: (d, c) => void (c.values.campaign = d.createCampaign.campaign.id) },
  {
    field: "createWorkflowStep",
    variables: (c) => ({ c: c.values.campaign }),
    after: (d, c) => void (c.values.step = d.createWorkflowStep.workflowStep.id),
  },
  { field: "createWorkflowStep", variables: (c) => ({ c: c.values.campaign }) },
  {
    field: "createStepExperiment",
    variables: (c) => ({ s: c.values.step }),
    after: (d, c) => void (c.values.experiment = d.createStepExperiment.stepExperiment.id),
  },
  { field: "createStepExperimentVariant", variables: (c) => ({ e: c.values.experiment }) },
  {
    field: "createCampaignEnrollment",
    variables: async (c) => ({
      c: c.values.campaign,
      p: await demoId(
        c,
        "select p.id from crm.positions p join iam.organisations o on o.id = p.organisation_id where o.slug = 'acme' order by p.id limit 1",
      ),
    }),
  },
  {
    field: "claimDueTasks",
    after: (d, c) => {
      expect(d.claimDueTasks.result.length).toBeGreaterThanOrEqual(2);
      c.values.task = d.claimDueTasks.result[0].id;
      c.values.otherTask = d.claimDueTasks.result[1].id;
    },
  },
  { field: "heartbeatTask", variables: (c) => ({ t: c.values.task }) },
  { field: "createMessage", variables: (c) => ({ t: c.values.task }) },
  { field: "completeTask", variables: (c) => ({ t: c.values.task }) },
  // "complete or fail": the other claimed task fails.
  { field: "failTask", variables: (c) => ({ t: c.values.otherTask }) },
  { field: "createMessage" },
  { field: "register", as: "anonymous", after: (d) => expect(d.register.message).toBeTruthy() },
  { field: "verifyEmail", skip: FROM_MAIL },
  { field: "login", as: "anonymous", after: (d, c) => void (c.tokens.sam = d.login.token) },
  {
    field: "switchOrganisation",
    as: "sam@shared.test",
    variables: async (c) => ({ org: await demoId(c, "select id from iam.organisations where slug = 'acme'") }),
  },
  { field: "logout", as: "sam@shared.test" },
  { field: "requestPasswordReset", as: "anonymous" },
  { field: "resetPassword", skip: FROM_MAIL },
  { field: "inviteMember" },
  {
    field: "invitations",
    after: (d, c) => void (c.values.invitation = d.invitations.nodes[0].id),
  },
  { field: "resendInvitation", variables: (c) => ({ id: c.values.invitation }) },
  { field: "revokeInvitation", variables: (c) => ({ id: c.values.invitation }) },
  { field: "register", skip: FROM_MAIL },
  { field: "acceptInvitation", skip: FROM_MAIL },
  {
    field: "changeMemberRole",
    variables: async (c) => ({ u: await demoId(c, "select id from iam.users where email = 'victor@acme.test'") }),
  },
  {
    field: "removeMember",
    variables: async (c) => ({ u: await demoId(c, "select id from iam.users where email = 'victor@acme.test'") }),
  },
  {
    field: "transferOwnership",
    variables: async (c) => ({ u: await demoId(c, "select id from iam.users where email = 'adam@acme.test'") }),
  },
  { field: "acceptOwnership", as: "adam@acme.test" },
  {
    field: "updateOrganisation",
    as: "adam@acme.test",
    variables: async (c) => ({ id: await demoId(c, "select id from iam.organisations where slug = 'acme'") }),
  },
  { field: "auditLogs", as: "adam@acme.test", after: (d) => expect(d.auditLogs.nodes.length).toBeGreaterThan(0) },
  // Ada's own organisation, from the register example: her address verified directly (the mailed step).
  {
    field: "deleteCurrentOrganisation",
    as: "ada@dupont.test",
    after: (d) => expect(d.deleteCurrentOrganisation.result).toBeTruthy(),
  },
];

function readmeOperations(): OperationDefinitionNode[] {
  const readme = readFileSync(path.join(projectRoot, "README.md"), "utf8");
  const [before, after] = readme.split("\n## Building a dashboard\n");
  if (after === undefined) throw new Error('README.md has no "## Building a dashboard" section');
  const outside = `${before}\n## ${after.split("\n## ").slice(1).join("\n## ")}`;
  return [...outside.matchAll(/^```graphql\n([\s\S]*?)^```$/gm)].flatMap((m) =>
    parse(m[1]!).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION),
  );
}
const rootField = (operation: OperationDefinitionNode) =>
  (operation.selectionSet.selections.find((s) => s.kind === Kind.FIELD) as FieldNode).name.value;

const operations = readmeOperations();
let database: ScratchDatabase;
let server: RunningServer;
const context = { values: {}, tokens: {} } as Context;

async function tokenOf(email: string): Promise<string> {
  if (context.tokens[email]) return context.tokens[email];
  const response = await graphql(
    server,
    `
      mutation ($email: String!) {
        login(input: { email: $email, password: "prospectflow-demo" }) {
          token
        }
      }
    `,
    { variables: { email } },
  );
  const token = response.body.data?.login?.token as string | undefined;
  if (!token) throw new Error(`cannot sign in as ${email}: ${JSON.stringify(response.body.errors)}`);
  return (context.tokens[email] = token);
}

beforeAll(async () => {
  database = await createScratchDatabase(testDatabase().serverRootUrl, "readmegql");
  await runCurrentMigrationOnce(database.urls, createLogger("silent"));
  server = await startServerFor(database.urls, { DEMO_DATA: "on" });
  context.owner = new pg.Pool({ connectionString: database.urls.ownerUrl, max: 2 });
});

afterAll(async () => {
  await server?.close();
  await context.owner?.end();
  await new Promise((resolve) => setTimeout(resolve, 500)); // graphile-migrate's pool lingers 200 ms
  await database?.drop();
});

it("every example outside the dashboard section is planned here, in README order", () => {
  expect(operations.map(rootField)).toEqual(PLAN.map((step) => step.field));
  const skipped = PLAN.filter((step) => step.skip);
  expect(skipped.map((s) => s.field)).toEqual(["verifyEmail", "resetPassword", "register", "acceptInvitation"]);
});

it("every runnable example runs against the demo data, as its section's user", async () => {
  let section = "maya@acme.test";
  let ran = 0;
  for (const [index, operation] of operations.entries()) {
    const step = PLAN[index]!;
    if (step.field === "register" && section === "maya@acme.test") section = "olivia@acme.test";
    if (step.skip) continue;
    if (step.field === "deleteCurrentOrganisation") {
      await context.owner.query("update iam.users set email_verified_at = now() where email = 'ada@dupont.test'");
      const login = await graphql(
        server,
        `
          mutation {
            login(input: { email: "ada@dupont.test", password: "correct-horse-42" }) {
              token
            }
          }
        `,
      );
      context.tokens["ada@dupont.test"] = login.body.data!.login.token;
    }
    const as = step.as ?? section;
    const token = as === "anonymous" ? undefined : as === "sam@shared.test" ? context.tokens.sam : await tokenOf(as);
    const variables = (await step.variables?.(context)) ?? {};
    const response = await graphql(server, print(operation), { token, variables });
    const label = `#${index} ${step.field} as ${as}`;
    expect(response.body.errors, `${label}: ${JSON.stringify(response.body.errors)}`).toBeUndefined();
    expect(response.body.data?.[step.field], label).toBeTruthy();
    await step.after?.(response.body.data as Data, context);
    ran++;
  }
  expect(ran).toBe(PLAN.filter((step) => !step.skip).length);
});
