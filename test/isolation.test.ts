// Tenant isolation, generated from the catalog for every tenant table of iam, crm, outreach and
// tracking: acting as organisation A (as its owner, the most privileged member), organisation B's
// rows are invisible, cannot be updated, deleted or referenced, and no row can be written for B.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listTables, quoteTable, type TableInfo } from "./helpers/catalog.ts";
import { asMember, createOrganisation, ownerPool, sqlstateOf, type TestOrganisation } from "./helpers/database.ts";
import { sampleRowsFor, tableChecksum, type Row } from "./helpers/row-factory.ts";
import { VISITOR_ROLE } from "../src/db/roles.ts";

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
