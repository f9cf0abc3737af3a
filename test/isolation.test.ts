// Tenant isolation, generated from the catalog for every tenant table of iam, crm, outreach and
// tracking: acting as organisation A (as its owner, the most privileged member), organisation B's
// rows are invisible, cannot be updated, deleted or referenced, and no row can be written for B.
import { memberToken } from "./helpers/tokens.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listTables, quoteTable, type TableInfo } from "./helpers/catalog.ts";
import { asMember, createOrganisation, ownerPool, sqlstateOf, type TestOrganisation } from "./helpers/database.ts";
import { sampleRowsFor, tableChecksum, type Row } from "./helpers/row-factory.ts";
import { randomBytes } from "node:crypto";
import { VISITOR_ROLE } from "../src/db/roles.ts";
import type { RunningServer } from "../src/server.ts";
import { graphql, startTestServer } from "./helpers/http-server.ts";

const owner = ownerPool();
const tables = await listTables(owner);
const tenantTables = tables.filter((t) => t.isTenantTable);

let orgA: TestOrganisation;
let orgB: TestOrganisation;
let rowsA: Map<string, Row>;
let rowsB: Map<string, Row>;

beforeAll(async () => {
  orgA = await createOrganisation(owner, "iso-a");
  orgB = await createOrganisation(owner, "iso-b");
  rowsA = await sampleRowsFor(owner, tables, { id: orgA.id, userId: orgA.users.owner });
  rowsB = await sampleRowsFor(owner, tables, { id: orgB.id, userId: orgB.users.owner });
});

afterAll(async () => {
  await owner.end();
});

const asOwnerOfA = <T>(work: Parameters<typeof asMember<T>>[2]) =>
  asMember(owner, { organisationId: orgA.id, userId: orgA.users.owner }, work);

/** A column the visitor may update on this table, if any. */
async function updatableColumn(table: TableInfo): Promise<string | undefined> {
  for (const column of table.columns) {
    const { rows } = await owner.query<{ allowed: boolean }>(
      "select has_column_privilege($1, $2, $3, 'UPDATE') as allowed",
      [VISITOR_ROLE, table.name, column.name],
    );
    if (rows[0]?.allowed) return column.name;
  }
  return undefined;
}

it("covers at least the foundation's tenant tables", () => {
  const names = tenantTables.map((t) => t.name);
  for (const expected of ["iam.organisation_users", "crm.companies", "crm.people", "crm.positions"]) {
    expect(names).toContain(expected);
  }
});

describe.each(tenantTables.map((t) => [t.name, t] as const))("%s", (name, table) => {
  it("org B's rows are invisible to org A", async () => {
    const { visibleOfB, visibleTotal } = await asOwnerOfA(async (client) => {
      const b = await client.query(`select count(*)::int as n from ${quoteTable(name)} where organisation_id = $1`, [
        orgB.id,
      ]);
      const all = await client.query(
        `select count(*)::int as n, count(*) filter (where organisation_id <> $1)::int as foreign from ${quoteTable(name)}`,
        [orgA.id],
      );
      return { visibleOfB: b.rows[0].n as number, visibleTotal: all.rows[0] as { n: number; foreign: number } };
    });
    expect(visibleOfB).toBe(0);
    expect(visibleTotal.foreign).toBe(0);
    expect(visibleTotal.n).toBeGreaterThan(0);
  });

  it("org B's rows cannot be updated by org A", async () => {
    const before = await tableChecksum(owner, name, orgB.id);
    const column = await updatableColumn(table);
    const outcome = await asOwnerOfA(async (client) => {
      if (column === undefined) {
        return sqlstateOf(
          client.query(`update ${quoteTable(name)} set organisation_id = organisation_id where organisation_id = $1`, [
            orgB.id,
          ]),
        );
      }
      const result = await client.query(
        `update ${quoteTable(name)} set "${column}" = "${column}" where organisation_id = $1`,
        [orgB.id],
      );
      return `updated ${result.rowCount}`;
    });
    expect(["updated 0", "42501"]).toContain(outcome);
    expect(await tableChecksum(owner, name, orgB.id)).toBe(before);
  });

  it("org B's rows cannot be deleted by org A", async () => {
    const before = await tableChecksum(owner, name, orgB.id);
    const outcome = await asOwnerOfA(async (client) => {
      try {
        const result = await client.query(`delete from ${quoteTable(name)} where organisation_id = $1`, [orgB.id]);
        return `deleted ${result.rowCount}`;
      } catch (error) {
        return String((error as { code?: string }).code);
      }
    });
    expect(["deleted 0", "42501"]).toContain(outcome);
    expect(await tableChecksum(owner, name, orgB.id)).toBe(before);
  });

  it("no row can be inserted for org B by org A", async () => {
    const template = { ...rowsB.get(name)! };
    const columns = Object.keys(template);
    const code = await asOwnerOfA((client) =>
      sqlstateOf(
        client.query(
          `insert into ${quoteTable(name)} (${columns.map((c) => `"${c}"`).join(", ")})
           values (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
          columns.map((c) => template[c]),
        ),
      ),
    );
    // 42501: no privilege on the column, or the row violates the policy.
    expect(code).toBe("42501");
  });

  const referencingKeys = tables.flatMap((child) =>
    child.isTenantTable ? child.foreignKeys.filter((fk) => fk.referencedTable === name) : [],
  );
  it.each(referencingKeys.map((fk) => [`${fk.table} (${fk.name})`, fk] as const))(
    "org B's rows cannot be referenced from org A's %s",
    async (_label, fk) => {
      // As the owner, so RLS does not apply: the composite foreign key alone must refuse it.
      const child = { ...rowsA.get(fk.table)! };
      const parentOfB = rowsB.get(name)!;
      fk.columns.forEach((column, i) => {
        if (column !== "organisation_id") child[column] = parentOfB[fk.referencedColumns[i]!];
      });
      for (const key of ["id"]) delete child[key];
      const columns = Object.keys(child).filter((c) => child[c] !== undefined);
      const client = await owner.connect();
      try {
        await client.query("begin");
        // Free the child's own unique values (e.g. a membership's key) so only the reference can fail.
        await client.query(`delete from ${quoteTable(fk.table)} where organisation_id = $1`, [orgA.id]);
        const code = await sqlstateOf(
          client.query(
            `insert into ${quoteTable(fk.table)} (${columns.map((c) => `"${c}"`).join(", ")})
             values (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
            columns.map((c) => child[c]),
          ),
        );
        expect(code).toBe("23503");
      } finally {
        await client.query("rollback");
        client.release();
      }
    },
  );
});

// Through GraphQL, as A's owner, for every root collection with a filter (generated from the schema):
// a filter matching only B's rows returns nothing and counts zero; search of B's unique words finds
// nothing; the grouped counts count only A's rows. The legitimate case beside each: A's own rows.
describe("filters, search and grouped counts through GraphQL", () => {
  let server: RunningServer;
  let tokenA: string;
  let tokenB: string;
  const words = new Map<string, string>();

  beforeAll(async () => {
    server = await startTestServer();
    tokenA = memberToken(orgA, "owner");
    tokenB = memberToken(orgB, "owner");
    // Give B's sample rows words of their own, in each searchable column set.
    for (const [table, column] of [
      ["crm.people", "last_name"],
      ["crm.companies", "name"],
      ["crm.positions", "job_title"],
    ] as const) {
      const word = `isob${randomBytes(4).toString("hex")}`;
      words.set(table, word);
      await owner.query(`update ${quoteTable(table)} set ${column} = $1 where organisation_id = $2 and id = $3`, [
        word,
        orgB.id,
        rowsB.get(table)!.id,
      ]);
    }
  });

  afterAll(async () => {
    await server?.close();
  });

  async function data(query: string, token = tokenA) {
    const response = await graphql(server, query, { token });
    expect(response.body.errors, `${query}: ${JSON.stringify(response.body.errors)}`).toBeUndefined();
    return response.body.data!;
  }

  it("a filter on B's organisation returns nothing and counts zero, in every filterable collection", async () => {
    const schema = await data(
      `{ __schema { queryType { fields { name args { name type { name } } type { name } } } } }`,
    );
    type Field = {
      name: string;
      args: Array<{ name: string; type: { name: string | null } }>;
      type: { name: string | null };
    };
    const fields = (schema.__schema.queryType.fields as Field[]).filter(
      (f) => f.type.name?.endsWith("Connection") && f.args.some((a) => a.name === "filter"),
    );
    expect(fields.map((f) => f.name)).toEqual(
      expect.arrayContaining(["people", "companies", "positions", "campaigns", "tasks", "messages"]),
    );
    const tested: string[] = [];
    for (const field of fields) {
      const filterType = field.args.find((a) => a.name === "filter")!.type.name!;
      const filter = await data(`{ __type(name: "${filterType}") { inputFields { name } } }`);
      if (!filter.__type.inputFields.some((f: { name: string }) => f.name === "organisationId")) continue;
      const counts = await data(`{
        ofB: ${field.name}(filter: { organisationId: { equalTo: "${orgB.id}" } }) { totalCount nodes { __typename } }
        ofA: ${field.name}(filter: { organisationId: { equalTo: "${orgA.id}" } }) { totalCount }
        all: ${field.name} { totalCount }
      }`);
      expect(counts.ofB, field.name).toEqual({ totalCount: 0, nodes: [] });
      expect(counts.ofA.totalCount, field.name).toBe(counts.all.totalCount);
      tested.push(field.name);
    }
    expect(tested).toEqual(
      expect.arrayContaining(["people", "companies", "positions", "campaigns", "tasks", "messages"]),
    );
  });

  it("search never finds B's rows; B finds them", async () => {
    for (const [table, field] of [
      ["crm.people", "people"],
      ["crm.companies", "companies"],
      ["crm.positions", "positions"],
    ] as const) {
      const query = `{ ${field}(search: "${words.get(table)}") { totalCount nodes { id } } }`;
      expect((await data(query))[field], table).toEqual({ totalCount: 0, nodes: [] });
      expect((await data(query, tokenB))[field].totalCount, table).toBe(1);
    }
  });

  it("grouped counts count only the organisation's own rows", async () => {
    const counts = await data(`{
      peopleStatusCounts { count } taskStatusCounts { count } messageStatusCounts { count }
      campaigns { nodes { id enrollmentStateCounts { count } } }
    }`);
    const sum = (list: Array<{ count: number }>) => list.reduce((total, row) => total + row.count, 0);
    const sqlCount = async (table: string, extra = "", parameters: unknown[] = []) =>
      (
        await owner.query(`select count(*)::int as n from ${table} where organisation_id = $1 ${extra}`, [
          orgA.id,
          ...parameters,
        ])
      ).rows[0].n;
    expect(sum(counts.peopleStatusCounts)).toBe(await sqlCount("crm.people"));
    expect(sum(counts.taskStatusCounts)).toBe(await sqlCount("outreach.tasks"));
    expect(sum(counts.messageStatusCounts)).toBe(await sqlCount("outreach.messages"));
    expect(counts.campaigns.nodes.length).toBeGreaterThan(0);
    for (const campaign of counts.campaigns.nodes) {
      expect(sum(campaign.enrollmentStateCounts)).toBe(
        await sqlCount("outreach.campaign_enrollments", "and campaign_id = $2", [campaign.id]),
      );
    }
    // B's counts are B's: the sample rows exist on both sides.
    expect(sum((await data(`{ peopleStatusCounts { count } }`, tokenB)).peopleStatusCounts)).toBeGreaterThan(0);
  });
});
