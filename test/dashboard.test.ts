// Dashboard-grade queries through GraphQL, as a member of organisation A with organisation B's rows
// in the same tables: search (accents, case, partial email, SIREN), every filter operator, relation
// filters, enums, ordering with cursors, grouped counts against independent SQL counts, numeric
// figures, and the GraphiQL welcome. B's rows never match, count or sort.
import { memberToken } from "./helpers/tokens.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server.ts";
import { listTables } from "./helpers/catalog.ts";
import { VISITOR_ROLE } from "../src/db/roles.ts";
import {
  asMember,
  authenticatorPool,
  createOrganisation,
  ownerPool,
  type TestOrganisation,
} from "./helpers/database.ts";
import { graphql, startTestServer } from "./helpers/http-server.ts";

const owner = ownerPool();
let server: RunningServer;
let orgA: TestOrganisation;
let orgB: TestOrganisation;
let tokenA: string;

async function insertPerson(org: string, first: string, last: string, email: string, status: string, created: string) {
  const { rows } = await owner.query<{ id: string }>(
    `insert into crm.people (organisation_id, first_name, last_name, email, status, created_at)
     values ($1, $2, $3, $4, $5, $6) returning id`,
    [org, first, last, email, status, created],
  );
  return rows[0]!.id;
}

async function insertCompany(org: string, name: string, siren: string, naf: string) {
  const { rows } = await owner.query<{ id: string }>(
    "insert into crm.companies (organisation_id, name, siren, naf_sector) values ($1, $2, $3, $4) returning id",
    [org, name, siren, naf],
  );
  return rows[0]!.id;
}

async function insertPosition(org: string, person: string, company: string, jobTitle: string, email: string) {
  await owner.query(
    "insert into crm.positions (organisation_id, person_id, company_id, job_title, email) values ($1, $2, $3, $4, $5)",
    [org, person, company, jobTitle, email],
  );
}

beforeAll(async () => {
  server = await startTestServer();
  orgA = await createOrganisation(owner, "dash-a");
  orgB = await createOrganisation(owner, "dash-b");
  tokenA = memberToken(orgA, "member");
  const lea = await insertPerson(orgA.id, "Léa", "Dupont", "lea.dupont@alpha.test", "new", "2026-01-10T00:00:00Z");
  await insertPerson(orgA.id, "LEA", "Martin", "lmartin@alpha.test", "contacted", "2026-02-10T00:00:00Z");
  const hugo = await insertPerson(
    orgA.id,
    "Hugo",
    "Durand",
    "hugo@dupuis-freres.test",
    "replied",
    "2026-03-10T00:00:00Z",
  );
  const zoe = await insertPerson(orgA.id, "Zoé", "Abel", "zoe@alpha.test", "new", "2026-04-10T00:00:00Z");
  await owner.query(
    "insert into crm.people (organisation_id, first_name, email, status) values ($1, 'Nolast', 'nolast@alpha.test', 'queued')",
    [orgA.id],
  );
  const dupont = await insertCompany(orgA.id, "Dupont Logistique", "552100554", "62.01Z");
  const { rows: nonaf } = await owner.query<{ id: string }>(
    "insert into crm.companies (organisation_id, name) values ($1, 'Nonaf SARL') returning id",
    [orgA.id],
  );
  const zeta = await insertCompany(orgA.id, "Zeta Conseil", "123456789", "70.22Z");
  await insertPosition(orgA.id, lea, dupont, "CEO", "lea@dupont-logistique.test");
  await insertPosition(orgA.id, hugo, zeta, "Head of Sales", "hugo@zeta.test");
  await insertPosition(orgA.id, zoe, nonaf[0]!.id, "Founder", "zoe@nonaf.test");
  // Organisation B: rows that A's searches and filters would match if isolation failed.
  const bea = await insertPerson(orgB.id, "Léa", "Bsecret", "lea@bsecret.test", "new", "2026-01-15T00:00:00Z");
  const bco = await insertCompany(orgB.id, "Bsecret Dupont", "999888777", "62.01Z");
  await insertPosition(orgB.id, bea, bco, "CEO", "lea@bsecret-dupont.test");
});

afterAll(async () => {
  await server?.close();
  await owner.end();
});

async function run(query: string, variables: Record<string, unknown> = {}, token = tokenA) {
  const response = await graphql(server, query, { token, variables });
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  return response.body.data!;
}

async function refusal(query: string, variables: Record<string, unknown> = {}) {
  const response = await graphql(server, query, { token: tokenA, variables });
  expect(response.body.errors, "expected a refusal").toBeDefined();
  return response.body.errors![0]!;
}

const lastNames = (data: { nodes: Array<{ lastName: string | null }> }) => data.nodes.map((n) => n.lastName);

describe("search", () => {
  const people = `query($q: String) { people(search: $q, orderBy: LAST_NAME_ASC) { totalCount nodes { lastName } } }`;

  it("ignores accents and case, and finds only the organisation's rows", async () => {
    for (const q of ["lea", "LÉA", "Léa", "  lea "]) {
      const data = await run(people, { q });
      expect(lastNames(data.people), q).toEqual(["Dupont", "Martin"]);
      expect(data.people.totalCount).toBe(2);
    }
  });

  it("matches part of an email, and an empty search matches everyone", async () => {
    expect(lastNames((await run(people, { q: "dupuis-fr" })).people)).toEqual(["Durand"]);
    expect((await run(people, { q: "" })).people.totalCount).toBe(5);
    expect((await run(people, { q: null })).people.totalCount).toBe(5);
  });

  it("treats % and _ as themselves", async () => {
    expect((await run(people, { q: "%" })).people.totalCount).toBe(0);
    expect((await run(people, { q: "_" })).people.totalCount).toBe(0);
  });

  it("finds companies by part of a SIREN or name, and positions by job title, email or company", async () => {
    const companies = await run(
      `{ bySiren: companies(search: "2100") { nodes { name } } byName: companies(search: "logist") { nodes { name } } }`,
    );
    expect(companies.bySiren.nodes).toEqual([{ name: "Dupont Logistique" }]);
    expect(companies.byName.nodes).toEqual([{ name: "Dupont Logistique" }]);
    const positions = await run(`{
      title: positions(search: "head of") { nodes { jobTitle } }
      email: positions(search: "zeta.te") { nodes { jobTitle } }
      company: positions(search: "552100") { nodes { jobTitle } }
    }`);
    expect(positions.title.nodes).toEqual([{ jobTitle: "Head of Sales" }]);
    expect(positions.email.nodes).toEqual([{ jobTitle: "Head of Sales" }]);
    expect(positions.company.nodes).toEqual([{ jobTitle: "CEO" }]);
  });

  it("never matches another organisation's rows (B's name, email, SIREN)", async () => {
    const data = await run(`{
      people(search: "bsecret") { totalCount nodes { id } }
      companies(search: "999888") { totalCount nodes { id } }
      positions(search: "bsecret") { totalCount nodes { id } }
    }`);
    expect(data).toEqual({
      people: { totalCount: 0, nodes: [] },
      companies: { totalCount: 0, nodes: [] },
      positions: { totalCount: 0, nodes: [] },
    });
    // The same searches as B find B's rows: they are there, only not A's.
    const tokenB = memberToken(orgB, "member");
    const asB = await run(
      `{ people(search: "bsecret") { totalCount } companies(search: "999888") { totalCount } }`,
      {},
      tokenB,
    );
    expect(asB).toEqual({ people: { totalCount: 1 }, companies: { totalCount: 1 } });
  });

  it("searches a collection under another row (the matches joined as a function scan's rows)", async () => {
    const data = await run(`{
      companies(orderBy: NAME_ASC) { nodes { name positions(search: "head of") { totalCount nodes { jobTitle } } } }
      people(orderBy: LAST_NAME_ASC, search: "lea") { nodes { lastName positions(search: "dupont-log") { nodes { email } } } }
    }`);
    expect(data.companies.nodes).toEqual([
      { name: "Dupont Logistique", positions: { totalCount: 0, nodes: [] } },
      { name: "Nonaf SARL", positions: { totalCount: 0, nodes: [] } },
      { name: "Zeta Conseil", positions: { totalCount: 1, nodes: [{ jobTitle: "Head of Sales" }] } },
    ]);
    expect(data.people.nodes).toEqual([
      { lastName: "Dupont", positions: { nodes: [{ email: "lea@dupont-logistique.test" }] } },
      { lastName: "Martin", positions: { nodes: [] } },
    ]);
  });

  it("reads matches by address only where addresses are sound: stable functions, plain tables", async () => {
    // Stable: the functions run in the calling statement's snapshot, so every address names a row
    // version that statement sees (a volatile one would take a newer snapshot in READ COMMITTED).
    const { rows: functions } = await owner.query<{
      name: string;
      volatility: string;
      definer: boolean;
      config: string[];
    }>(
      `select p.proname as name, p.provolatile as volatility, p.prosecdef as definer, coalesce(p.proconfig, '{}') as config
         from pg_proc p where p.pronamespace = 'app_hidden'::regnamespace and p.proname like '%matching_ctid%'
        order by 1`,
    );
    expect(functions.map((f) => [f.name, f.volatility, f.definer])).toEqual([
      ["companies_matching_ctid_set", "s", false],
      ["companies_matching_ctids", "s", true],
      ["people_matching_ctid_set", "s", false],
      ["people_matching_ctids", "s", true],
      ["positions_matching_ctid_set", "s", false],
      ["positions_matching_ctids", "s", true],
    ]);
    for (const f of functions) expect(f.config, f.name).toContain("search_path=pg_catalog, pg_temp");
    // A ctid names a row within one table: a partitioned or inherited table would repeat addresses.
    const { rows: tables } = await owner.query<{ name: string; kind: string; children: number }>(
      `select c.relname as name, c.relkind::text as kind,
              (select count(*)::int from pg_inherits i where i.inhparent = c.oid) as children
         from pg_class c where c.oid in ('crm.people'::regclass, 'crm.companies'::regclass, 'crm.positions'::regclass)
        order by 1`,
    );
    expect(tables).toEqual([
      { name: "companies", kind: "r", children: 0 },
      { name: "people", kind: "r", children: 0 },
      { name: "positions", kind: "r", children: 0 },
    ]);
  });

  it("reads the matches by address through the policies: B's row addresses find nothing as A", async () => {
    // The search functions return ctids (migration 000013); the API's query reads those rows again
    // under RLS. Addresses of B's rows, forged into A's query, are filtered by the policies.
    const { rows } = await owner.query<{ ctid: string }>(
      "select ctid::text as ctid from crm.people where organisation_id = $1",
      [orgB.id],
    );
    expect(rows.length).toBeGreaterThan(0);
    const addresses = rows.map((row) => row.ctid);
    const authenticator = authenticatorPool();
    try {
      const read = (org: TestOrganisation) =>
        asMember(authenticator, { organisationId: org.id, userId: org.users.member }, async (client) => {
          const matched = await client.query<{ n: number }>(
            "select cardinality(app_hidden.people_matching_ctids('bsecret'))::int as n",
          );
          const forged = await client.query<{ n: number }>(
            "select count(*)::int as n from crm.people where ctid = any($1::tid[])",
            [addresses],
          );
          return [matched.rows[0]!.n, forged.rows[0]!.n];
        });
      expect(await read(orgA)).toEqual([0, 0]);
      expect(await read(orgB)).toEqual([1, addresses.length]);
    } finally {
      await authenticator.end();
    }
  });

  it("finds a row updated during a transaction by the version its snapshot sees, exactly once", async () => {
    const orgD = await createOrganisation(owner, "dash-moved");
    const id = await insertPerson(orgD.id, "Léa", "Avant", "lea@delta.test", "new", "2026-01-01T00:00:00Z");
    const search =
      "select count(*)::int as n, min(last_name) as last_name from crm.people where ctid = any((select app_hidden.people_matching_ctids('lea'))::tid[])";
    const authenticator = authenticatorPool();
    const reader = await authenticator.connect();
    try {
      await reader.query("begin isolation level repeatable read");
      await reader.query(
        "select set_config('role', $1, true), set_config('app.organisation_id', $2, true), set_config('app.user_id', $3, true)",
        [VISITOR_ROLE, orgD.id, orgD.users.member],
      );
      expect((await reader.query(search)).rows[0]).toEqual({ n: 1, last_name: "Avant" });
      // Another transaction moves the row (an update writes a new version at a new address).
      await owner.query("update crm.people set last_name = 'Après' where organisation_id = $1 and id = $2", [
        orgD.id,
        id,
      ]);
      expect((await reader.query(search)).rows[0]).toEqual({ n: 1, last_name: "Avant" });
      await reader.query("commit");
    } finally {
      await reader.query("rollback").catch(() => {});
      reader.release();
      await authenticator.end();
    }
    const data = await run(
      `{ people(search: "lea") { totalCount nodes { lastName } } }`,
      {},
      memberToken(orgD, "member"),
    );
    expect(data.people).toEqual({ totalCount: 1, nodes: [{ lastName: "Après" }] });
  });

  it("ranks the best matches first with orderBy SEARCH_RANK", async () => {
    const orgC = await createOrganisation(owner, "dash-rank");
    const tokenC = memberToken(orgC, "member");
    await insertPerson(orgC.id, "Léandre", "Petit", "lp@gamma.test", "new", "2026-01-01T00:00:00Z");
    await insertPerson(orgC.id, "Léa", "Dupont", "ld@gamma.test", "new", "2026-01-01T00:00:00Z");
    await insertPerson(orgC.id, "Lea", "Martin", "lm@gamma.test", "new", "2026-01-01T00:00:00Z");
    const order = `query($order: [PersonOrderBy!]) { people(search: "lea", orderBy: $order) { nodes { lastName } } }`;
    // The exact word "lea" first (ties by last name, Z to A), the partial match "Léandre" last.
    expect(lastNames((await run(order, { order: ["SEARCH_RANK", "LAST_NAME_DESC"] }, tokenC)).people)).toEqual([
      "Martin",
      "Dupont",
      "Petit",
    ]);
    // Cursors over the rank are stable: one at a time gives the same sequence.
    const page = `query($after: Cursor) { people(search: "lea", orderBy: [SEARCH_RANK, LAST_NAME_DESC], first: 1, after: $after) {
      pageInfo { hasNextPage endCursor } nodes { lastName } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 4; i++) {
      const data = await run(page, { after }, tokenC);
      seen.push(...lastNames(data.people).map(String));
      if (!data.people.pageInfo.hasNextPage) break;
      after = data.people.pageInfo.endCursor;
    }
    expect(seen).toEqual(["Martin", "Dupont", "Petit"]);
    expect(lastNames((await run(order, { order: ["LAST_NAME_DESC"] }, tokenC)).people)).toEqual([
      "Petit",
      "Martin",
      "Dupont",
    ]);
  });

  it("refuses a search longer than 100 characters with INVALID_INPUT, and accepts 100", async () => {
    const error = await refusal(people, { q: "x".repeat(101) });
    expect(error.extensions?.code).toBe("INVALID_INPUT");
    expect(error.message).toMatch(/at most 100 characters/);
    expect((await run(people, { q: "x".repeat(100) })).people.totalCount).toBe(0);
  });
});

describe("filters", () => {
  const people = `query($f: PersonFilter) { people(filter: $f, orderBy: LAST_NAME_ASC) { totalCount nodes { lastName } } }`;
  const cases: Array<[string, Record<string, unknown>, Array<string | null>]> = [
    ["equalTo", { status: { equalTo: "new" } }, ["Abel", "Dupont"]],
    ["notEqualTo", { status: { notEqualTo: "new" } }, [null, "Durand", "Martin"]],
    ["in", { status: { in: ["new", "replied"] } }, ["Abel", "Dupont", "Durand"]],
    ["notIn", { status: { notIn: ["new", "replied"] } }, [null, "Martin"]],
    ["isNull true", { positions: { some: { company: { nafSector: { isNull: true } } } } }, ["Abel"]],
    ["isNull false", { positions: { some: { company: { nafSector: { isNull: false } } } } }, ["Dupont", "Durand"]],
    ["greaterThan", { createdAt: { greaterThan: "2026-02-10T00:00:00Z" } }, [null, "Abel", "Durand"]],
    [
      "greaterThanOrEqualTo",
      { createdAt: { greaterThanOrEqualTo: "2026-02-10T00:00:00Z" } },
      [null, "Abel", "Durand", "Martin"],
    ],
    ["lessThan", { createdAt: { lessThan: "2026-02-10T00:00:00Z" } }, ["Dupont"]],
    ["lessThanOrEqualTo", { createdAt: { lessThanOrEqualTo: "2026-02-10T00:00:00Z" } }, ["Dupont", "Martin"]],
    [
      "a date range and two statuses together",
      {
        status: { in: ["new", "contacted"] },
        createdAt: { greaterThan: "2026-01-01T00:00:00Z", lessThan: "2026-03-01T00:00:00Z" },
      },
      ["Dupont", "Martin"],
    ],
    ["a string equality", { email: { equalTo: "zoe@alpha.test" } }, ["Abel"]],
    [
      "people at companies of a NAF sector",
      { positions: { some: { company: { nafSector: { equalTo: "62.01Z" } } } } },
      ["Dupont"],
    ],
    ["people with no position", { positionsExist: false }, [null, "Martin"]],
  ];

  it.each(cases)("%s", async (_name, filter, expected) => {
    const data = await run(people, { f: filter });
    expect(lastNames(data.people)).toEqual(expected);
    expect(data.people.totalCount).toBe(expected.length);
  });

  it("matches none of B's rows even when B's values are asked for", async () => {
    const data = await run(people, { f: { email: { equalTo: "lea@bsecret.test" } } });
    expect(data.people).toEqual({ totalCount: 0, nodes: [] });
    const byOrg = await run(people, { f: { organisationId: { equalTo: orgB.id } } });
    expect(byOrg.people.totalCount).toBe(0);
    const naf = await run(`{ companies(filter: { nafSector: { equalTo: "62.01Z" } }) { totalCount nodes { name } } }`);
    expect(naf.companies).toEqual({ totalCount: 1, nodes: [{ name: "Dupont Logistique" }] });
  });

  it("has no pattern-matching operators, no and/or/not, and no filter on unindexed columns", async () => {
    for (const [query, pattern] of [
      [`{ people(filter: { email: { includes: "x" } }) { totalCount } }`, /includes/],
      [`{ people(filter: { email: { likeInsensitive: "%x%" } }) { totalCount } }`, /likeInsensitive/],
      [`{ people(filter: { or: [{ status: { equalTo: new } }] }) { totalCount } }`, /"or"/],
      [`{ people(filter: { mobilePhone: { equalTo: "1" } }) { totalCount } }`, /mobilePhone/],
      [`{ companies(filter: { industry: { equalTo: "x" } }) { totalCount } }`, /industry/],
    ] as const) {
      const error = await refusal(query);
      expect(error.extensions?.code, query).toBe("GRAPHQL_VALIDATION_FAILED");
      expect(error.message).toMatch(pattern);
    }
    // The allowed neighbour of each still works.
    expect((await run(`{ people(filter: { email: { equalTo: "x" } }) { totalCount } }`)).people.totalCount).toBe(0);
  });
});

describe("enums", () => {
  it("reads and writes statuses as enum values (the database's own words)", async () => {
    const data = await run(`{ people(condition: { status: replied }) { nodes { lastName status } } }`);
    expect(data.people.nodes).toEqual([{ lastName: "Durand", status: "replied" }]);
    const viaVariable = await run(`query($s: PersonStatus!) { people(condition: { status: $s }) { totalCount } }`, {
      s: "new",
    });
    expect(viaVariable.people.totalCount).toBe(2);
  });

  it("refuses a wrong value with a validation error naming the allowed values", async () => {
    const literal = await refusal(`{ people(condition: { status: hot_lead }) { totalCount } }`);
    expect(literal.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(literal.message).toContain(
      "PersonStatus is one of new, queued, researched, contacted, replied, converted, unsubscribed, bounced",
    );
    const quoted = await refusal(`{ people(condition: { status: "hot-lead" }) { totalCount } }`);
    expect(quoted.message).toContain("PersonStatus is one of new, queued");
    const variable = await refusal(`query($s: PersonStatus!) { people(condition: { status: $s }) { totalCount } }`, {
      s: "hot-lead",
    });
    expect(variable.message).toContain("PersonStatus is one of new, queued");
    expect(variable.message).toContain('"hot-lead"');
  });

  it("types every status, state, kind, direction and role column as an enum", async () => {
    const data = await run(
      `{ __schema { types { name kind fields { name type { name kind ofType { name kind } } } } } }`,
    );
    const types = new Map<
      string,
      {
        fields: Array<{
          name: string;
          type: { kind: string; name: string | null; ofType: { name: string; kind: string } | null };
        }> | null;
      }
    >(data.__schema.types.map((t: { name: string }) => [t.name, t]));
    const expectations: Array<[string, string, string]> = [
      ["Person", "status", "PersonStatus"],
      ["Position", "emailStatus", "EmailStatus"],
      ["Campaign", "status", "CampaignStatus"],
      ["WorkflowStep", "kind", "StepKind"],
      ["StepExperiment", "status", "ExperimentStatus"],
      ["CampaignEnrollment", "state", "EnrollmentState"],
      ["Task", "status", "TaskStatus"],
      ["Task", "taskType", "TaskType"],
      ["Message", "direction", "MessageDirection"],
      ["Message", "status", "MessageStatus"],
      ["Message", "provider", "MessageProvider"],
      ["OrganisationUser", "role", "MemberRole"],
      ["OrganisationUser", "status", "MembershipStatus"],
      ["RolePermission", "role", "MemberRole"],
    ];
    for (const [typeName, fieldName, enumName] of expectations) {
      const field = types.get(typeName)?.fields?.find((f) => f.name === fieldName);
      expect(field, `${typeName}.${fieldName}`).toBeDefined();
      const named = field!.type.kind === "NON_NULL" ? field!.type.ofType! : field!.type;
      expect(`${typeName}.${fieldName}: ${named.name}`).toBe(`${typeName}.${fieldName}: ${enumName}`);
      expect(named.kind).toBe("ENUM");
    }
  });
});

it("every status, state, kind, direction and role column of the API schemas references an @enum lookup table", async () => {
  const tables = await listTables(owner);
  const enumerated = /(^|_)(status|state|kind|direction|role|type|tier|provider)$/;
  const columns = tables.flatMap((t) =>
    t.columns.filter((c) => enumerated.test(c.name) && c.type === "text").map((c) => ({ table: t, column: c })),
  );
  expect(columns.length).toBeGreaterThanOrEqual(14);
  for (const { table, column } of columns) {
    const reference = table.enumReferences.find((e) => e.column === column.name);
    expect(reference, `${table.name}.${column.name}`).toBeDefined();
    expect(reference!.lookupTable).toMatch(/^reference\./);
    expect(column.checks, `${table.name}.${column.name} keeps no CHECK list`).toEqual([]);
    expect(reference!.values.length).toBeGreaterThan(1);
  }
});

describe("ordering", () => {
  it("orders by last name, first name and creation date, with stable cursors page after page (nameless people included)", async () => {
    const page = `query($after: Cursor, $order: [PersonOrderBy!]) { people(first: 2, after: $after, orderBy: $order) {
      pageInfo { hasNextPage endCursor } nodes { firstName lastName createdAt } } }`;
    for (const [order, sql] of [
      [["LAST_NAME_ASC", "FIRST_NAME_ASC"], "coalesce(last_name, '') asc, coalesce(first_name, '') asc, id"],
      [["FIRST_NAME_DESC"], "coalesce(first_name, '') desc, id"],
      [["CREATED_AT_DESC"], "created_at desc, id"],
    ] as const) {
      const seen: string[] = [];
      let after: string | null = null;
      for (let i = 0; i < 5; i++) {
        const data = await run(page, { after, order });
        seen.push(...data.people.nodes.map((n: { firstName: string }) => n.firstName));
        if (!data.people.pageInfo.hasNextPage) break;
        after = data.people.pageInfo.endCursor;
      }
      const { rows } = await owner.query(
        `select first_name from crm.people where organisation_id = $1 order by ${sql}`,
        [orgA.id],
      );
      expect(seen, order.join(",")).toEqual(rows.map((r) => r.first_name));
    }
  });

  it("orders companies by name and never sorts B's rows in", async () => {
    const data = await run(`{ companies(orderBy: NAME_DESC) { nodes { name } } }`);
    expect(data.companies.nodes).toEqual([
      { name: "Zeta Conseil" },
      { name: "Nonaf SARL" },
      { name: "Dupont Logistique" },
    ]);
  });
});

describe("grouped counts and figures", () => {
  it("keeps the status totals equal to the rows through inserts, status changes, moves, deletes and concurrent writers", async () => {
    const counts = async (token = tokenA) =>
      Object.fromEntries(
        (await run(`{ peopleStatusCounts { status count } }`, {}, token)).peopleStatusCounts.map(
          (r: { status: string; count: number }) => [r.status, r.count],
        ),
      );
    const sqlCounts = async (organisationId: string) =>
      Object.fromEntries(
        (
          await owner.query<{ status: string; count: number }>(
            `select s.value as status, (select count(*)::int from crm.people p where p.organisation_id = $1 and p.status = s.value) as count
               from reference.person_statuses s`,
            [organisationId],
          )
        ).rows.map((r) => [r.status, r.count]),
      );
    const tokenB = memberToken(orgB, "member");
    const stamp = Date.now();
    const ids: string[] = [];
    // Twenty concurrent inserts (different backends, so different shards), half of them replied.
    const inserted = await Promise.all(
      Array.from({ length: 20 }, (_v, i) =>
        insertPerson(
          orgA.id,
          "Tot",
          `Al${i}`,
          `tot-${stamp}-${i}@alpha.test`,
          i % 2 ? "replied" : "new",
          "2026-02-01T00:00:00Z",
        ),
      ),
    );
    ids.push(...inserted);
    expect(await counts()).toEqual(await sqlCounts(orgA.id));
    await owner.query("update crm.people set status = 'contacted' where id = any($1)", [ids.slice(0, 5)]);
    await owner.query("update crm.people set first_name = 'Unchanged status' where id = any($1)", [ids.slice(5, 8)]);
    await owner.query("delete from crm.people where id = any($1)", [ids.slice(8, 12)]);
    expect(await counts()).toEqual(await sqlCounts(orgA.id));
    // B's counts never include A's rows, nor A's B's.
    expect(await counts(tokenB)).toEqual(await sqlCounts(orgB.id));
    // Rebuilding from the rows gives exactly the totals the triggers kept.
    const kept = await owner.query(
      "select organisation_id, counted, status, sum(total)::int as total from app_private.status_totals group by 1, 2, 3 having sum(total) <> 0 order by 1, 2, 3",
    );
    await owner.query("select app_hidden.recount_status_totals(null)");
    const rebuilt = await owner.query(
      "select organisation_id, counted, status, sum(total)::int as total from app_private.status_totals group by 1, 2, 3 having sum(total) <> 0 order by 1, 2, 3",
    );
    expect(rebuilt.rows).toEqual(kept.rows);
    expect(await counts()).toEqual(await sqlCounts(orgA.id));
    await owner.query("delete from crm.people where id = any($1)", [ids]);
  });

  it("counts people, tasks and messages by status exactly as SQL does, every status listed", async () => {
    // A campaign with enrolments (queued tasks) and an inbound message, through the API.
    const campaign = await run(
      `mutation { createCampaign(input: { campaign: { name: "Counts", status: active } }) { campaign { id } } }`,
    );
    const campaignId = campaign.createCampaign.campaign.id;
    await run(
      `mutation($c: UUID!) { createWorkflowStep(input: { workflowStep: { campaignId: $c, stepIndex: 0, delayDays: 0 } }) { workflowStep { id } } }`,
      { c: campaignId },
    );
    const { rows: positions } = await owner.query("select id from crm.positions where organisation_id = $1", [orgA.id]);
    for (const p of positions) {
      await run(
        `mutation($c: UUID!, $p: UUID!) { createCampaignEnrollment(input: { campaignEnrollment: { campaignId: $c, positionId: $p } }) { campaignEnrollment { id } } }`,
        { c: campaignId, p: p.id },
      );
    }
    await run(
      `mutation { createMessage(input: { message: { direction: inbound, status: received, providerThreadId: "t-counts" } }) { message { id } } }`,
    );

    const data = await run(
      `query($c: UUID!) {
      peopleStatusCounts { status count }
      taskStatusCounts { status count }
      messageStatusCounts { status count }
      campaign(id: $c) { enrollmentStateCounts { state count } }
    }`,
      { c: campaignId },
    );
    const sqlCounts = async (table: string, column: string, lookup: string, extra = "") => {
      const { rows } = await owner.query(
        `select l.value as key, (select count(*)::int from ${table} t where t.organisation_id = $1 and t.${column} = l.value ${extra}) as count
           from reference.${lookup} l order by l.sort_order`,
        [orgA.id],
      );
      return rows.map((r) => [r.key, r.count]);
    };
    const pairs = (list: Array<{ count: number } & Record<string, unknown>>, key: string) =>
      list.map((r) => [r[key], r.count]);
    expect(pairs(data.peopleStatusCounts, "status")).toEqual(
      await sqlCounts("crm.people", "status", "person_statuses"),
    );
    expect(pairs(data.taskStatusCounts, "status")).toEqual(
      await sqlCounts("outreach.tasks", "status", "task_statuses"),
    );
    expect(pairs(data.messageStatusCounts, "status")).toEqual(
      await sqlCounts("outreach.messages", "status", "message_statuses"),
    );
    expect(pairs(data.campaign.enrollmentStateCounts, "state")).toEqual(
      await sqlCounts(
        "outreach.campaign_enrollments",
        "state",
        "enrollment_states",
        `and t.campaign_id = '${campaignId}'`,
      ),
    );
    expect(data.peopleStatusCounts.find((r: { status: string }) => r.status === "new").count).toBe(2);
    expect(data.taskStatusCounts.find((r: { status: string }) => r.status === "queued").count).toBe(positions.length);
    expect(typeof data.peopleStatusCounts[0].count).toBe("number");

    // The functions name the organisation themselves: a role that RLS does not apply to (the
    // owner here; the bench's BYPASSRLS variant) still counts only the current organisation's rows.
    const client = await owner.connect();
    try {
      await client.query("begin");
      await client.query(
        "select set_config('app.organisation_id', $1, true), set_config('app.user_id', $2, true), set_config('app.session_id', $3, true)",
        [orgA.id, orgA.users.owner, orgA.sessions.owner],
      );
      for (const [fn, table, column, lookup] of [
        ["crm.people_status_counts", "crm.people", "status", "person_statuses"],
        ["outreach.task_status_counts", "outreach.tasks", "status", "task_statuses"],
        ["outreach.message_status_counts", "outreach.messages", "status", "message_statuses"],
      ] as const) {
        const { rows } = await client.query<{ key: string; count: number }>(`select * from ${fn}()`);
        expect(rows.map((r) => Object.values(r))).toEqual(await sqlCounts(table, column, lookup));
      }
    } finally {
      await client.query("rollback");
      client.release();
    }
  });

  it("returns figures as numbers and zero-filled totals per day, refusing a range over 367 days", async () => {
    const data = await run(`{
      campaigns { nodes { performance { enrolled sent opened replied openRate replyRate } } }
      dailyTotals(fromDay: "2026-01-01", toDay: "2026-01-31") { day enrolled emailsSent emailsOpened emailsReplied }
    }`);
    for (const node of data.campaigns.nodes) {
      expect(typeof node.performance.enrolled).toBe("number");
      expect(node.performance.openRate === null || typeof node.performance.openRate === "number").toBe(true);
    }
    expect(data.dailyTotals).toHaveLength(31);
    expect(data.dailyTotals[0]).toEqual({
      day: "2026-01-01",
      enrolled: 0,
      emailsSent: 0,
      emailsOpened: 0,
      emailsReplied: 0,
    });
    const error = await refusal(`{ dailyTotals(fromDay: "2025-01-01", toDay: "2026-12-31") { day } }`);
    expect(error.extensions?.code).toBe("INVALID_INPUT");
    expect((await run(`{ dailyTotals(fromDay: "2025-01-01", toDay: "2026-01-02") { day } }`)).dailyTotals).toHaveLength(
      367,
    );
  });
});

describe("GraphiQL welcome", () => {
  it("opens on the project's operations, starting with Login, with the header template", async () => {
    const html = await (await fetch(`${server.url}/graphiql`)).text();
    expect(html).toContain("mutation Login");
    expect(html).toContain("query ProspectList");
    expect(html).toContain(JSON.stringify(JSON.stringify({ Authorization: "Bearer " })).slice(1, -1));
  });

  it("redirects / to GraphiQL when GraphiQL is served, and not otherwise", async () => {
    const response = await fetch(`${server.url}/`, { redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/graphiql");
    const without = await startTestServer({ GRAPHIQL: "false" });
    try {
      expect((await fetch(`${without.url}/`, { redirect: "manual" })).status).toBe(404);
    } finally {
      await without.close();
    }
  });
});
