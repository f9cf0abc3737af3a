// README "Adding a tenant table", executed as pasted: its two ```sql blocks (the current file and
// its revert part) are applied to a scratch database migrated like the real one (committed
// migrations, then the current folder), the recipe twice (it must be idempotent), and the new
// table is held to the rules of test/catalog.test.ts and test/isolation.test.ts; then the revert
// part removes it.
import { readFileSync } from "node:fs";
import path from "node:path";
import graphileMigrate from "graphile-migrate";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { migrationSettings, runCurrentMigrationOnce } from "../src/db/migrations.ts";
import { VISITOR_ROLE } from "../src/db/roles.ts";
import { createLogger } from "../src/logger.ts";
import { listTables, quoteTable, type TableInfo } from "./helpers/catalog.ts";
import { asMember, createOrganisation, sqlstateOf, testDatabase, type TestOrganisation } from "./helpers/database.ts";
import { sampleRowsFor, tableChecksum, type Row } from "./helpers/row-factory.ts";
import { graphql } from "./helpers/http-server.ts";
import { createScratchDatabase, type ScratchDatabase } from "./helpers/scratch-database.ts";
import { startServerFor } from "./helpers/server-for-database.ts";
import { memberToken } from "./helpers/tokens.ts";

const { run } = graphileMigrate;

/** The fenced blocks of one language in a README section (from its heading to the next heading of any level). */
function fencedBlocks(markdown: string, heading: string, language: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "${heading}"`);
  const rest = markdown.slice(start + heading.length + 2);
  const section = rest.slice(0, rest.search(/^#{1,6} /m) >>> 0);
  return [...section.matchAll(new RegExp("^```" + language + "\\n([\\s\\S]*?)^```$", "gm"))].map((m) => m[1]!);
}

const readme = readFileSync(path.join(projectRoot, "README.md"), "utf8");
const [recipe, revert] = fencedBlocks(readme, "### Adding a tenant table", "sql");
/** The table the recipe creates, read from the recipe itself. */
const tableName = /create table (\w+\.\w+)/.exec(recipe ?? "")?.[1] ?? "";
const logger = createLogger("silent");

let scratch: ScratchDatabase;
let owner: pg.Pool;

/** Runs SQL the way graphile-migrate runs the current migration (placeholders, .gmrc settings). */
async function applyAsMigration(sql: string, label: string): Promise<void> {
  await run(migrationSettings(scratch.urls, logger), sql, label);
}

beforeAll(async () => {
  scratch = await createScratchDatabase(testDatabase().serverRootUrl, "recipe");
  await runCurrentMigrationOnce(scratch.urls, logger);
  owner = new pg.Pool({ connectionString: scratch.urls.ownerUrl, max: 4 });
});

afterAll(async () => {
  await owner?.end();
  // graphile-migrate keeps its pool 200 ms after a run, and exits the process if a forced drop cuts it.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await scratch?.drop();
});

it("the section holds the recipe and its revert part, and names the table it creates", () => {
  expect(recipe).toMatch(/^drop table if exists/);
  expect(revert).toMatch(/drop table if exists/);
  expect(tableName).toBe("crm.notes");
});

describe("the recipe, applied twice to a migrated database", () => {
  let tables: TableInfo[];
  let table: TableInfo;
  let orgA: TestOrganisation;
  let orgB: TestOrganisation;
  let rowsA: Map<string, Row>;
  let rowsB: Map<string, Row>;

  beforeAll(async () => {
    await applyAsMigration(recipe!, "README recipe");
    await applyAsMigration(recipe!, "README recipe, again");
    tables = await listTables(owner);
    table = tables.find((t) => t.name === tableName)!;
    orgA = await createOrganisation(owner, "recipe-a");
    orgB = await createOrganisation(owner, "recipe-b");
    rowsA = await sampleRowsFor(owner, tables, { id: orgA.id, userId: orgA.users.owner });
    rowsB = await sampleRowsFor(owner, tables, { id: orgB.id, userId: orgB.users.owner });
  });

  it("creates a tenant table the catalog suites find", () => {
    expect(table, `${tableName} not among ${tables.map((t) => t.name).join(", ")}`).toBeDefined();
    expect(table.isTenantTable).toBe(true);
  });

  // The structural rules of test/catalog.test.ts, on the new table.
  it("has row-level security and a policy for select, insert, update and delete", async () => {
    const { rows } = await owner.query("select relrowsecurity from pg_class where oid = $1::regclass", [tableName]);
    expect(rows[0].relrowsecurity).toBe(true);
    const { rows: policies } = await owner.query<{ polcmd: string }>(
      "select polcmd from pg_policy where polrelid = $1::regclass",
      [tableName],
    );
    const commands = new Set(policies.flatMap((r) => (r.polcmd === "*" ? ["r", "a", "w", "d"] : [r.polcmd])));
    expect([...commands].sort()).toEqual(["a", "d", "r", "w"]);
  });

  it("calls the tenant helpers only inside (select …), and only helpers that exist", async () => {
    const { rows } = await owner.query<{ name: string; expression: string }>(
      `select polname as name,
              concat_ws(' AND ', pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)) as expression
         from pg_policy where polrelid = $1::regclass`,
      [tableName],
    );
    for (const policy of rows) {
      const calls = policy.expression.match(/app_hidden\.\w+\(/g) ?? [];
      const wrapped = policy.expression.match(/\(\s*SELECT app_hidden\.\w+\(/g) ?? [];
      expect(calls.length, policy.name).toBeGreaterThan(0);
      expect(wrapped.length, `${policy.name}: ${policy.expression}`).toBe(calls.length);
      expect(policy.expression).toMatch(/app_hidden\.current_organisation_id\(\)/);
      if (policy.name !== "select_own") expect(policy.expression, policy.name).toContain("require_permission");
    }
  });

  it("has a comment, a primary key and foreign keys led by organisation_id, each key served by an index", async () => {
    const { rows } = await owner.query("select obj_description($1::regclass, 'pg_class') as comment", [tableName]);
    expect(rows[0].comment ?? "").not.toBe("");
    expect(table.primaryKey[0]).toBe("organisation_id");
    const { rows: indexes } = await owner.query<{ columns: string[] }>(
      `select array(select a.attname from unnest(x.indkey) with ordinality u(n, k)
                      join pg_attribute a on a.attrelid = x.indrelid and a.attnum = u.n order by u.k)::text[] as columns
         from pg_index x where x.indrelid = $1::regclass`,
      [tableName],
    );
    for (const index of indexes) expect(index.columns[0]).toBe("organisation_id");
    for (const fk of table.foreignKeys) {
      if (fk.referencedTable !== "iam.users") expect(fk.columns, fk.name).toContain("organisation_id");
      const served = indexes.some((index) =>
        fk.columns.every((c) => index.columns.slice(0, fk.columns.length).includes(c)),
      );
      expect(served, `${fk.name} has no index`).toBe(true);
    }
  });

  it("grants the visitor no write of organisation_id, id or timestamps", async () => {
    for (const column of ["organisation_id", "id", "created_at", "updated_at"]) {
      const { rows } = await owner.query<{ insert: boolean; update: boolean }>(
        `select has_column_privilege($1, $2, $3, 'INSERT') as insert, has_column_privilege($1, $2, $3, 'UPDATE') as update`,
        [VISITOR_ROLE, tableName, column],
      );
      expect(rows[0], column).toEqual({ insert: false, update: false });
    }
  });

  // The checks of test/isolation.test.ts, on the new table, as A's owner.
  const asOwnerOfA = <T>(work: (client: pg.PoolClient) => Promise<T>) =>
    asMember(owner, { organisationId: orgA.id, userId: orgA.users.owner }, work);

  it("org B's rows are invisible to org A, whose own rows are visible", async () => {
    const counts = await asOwnerOfA(async (client) => {
      const { rows } = await client.query(
        `select count(*) filter (where organisation_id = $1)::int as own, count(*) filter (where organisation_id <> $1)::int as foreign
           from ${quoteTable(tableName)}`,
        [orgA.id],
      );
      return rows[0];
    });
    expect(counts).toEqual({ own: 1, foreign: 0 });
  });

  it("org B's rows cannot be updated or deleted by org A", async () => {
    const before = await tableChecksum(owner, tableName, orgB.id);
    const outcome = await asOwnerOfA(async (client) => {
      const updated = await client.query(
        `update ${quoteTable(tableName)} set body = 'changed' where organisation_id = $1`,
        [orgB.id],
      );
      const deleted = await client.query(`delete from ${quoteTable(tableName)} where organisation_id = $1`, [orgB.id]);
      return [updated.rowCount, deleted.rowCount];
    });
    expect(outcome).toEqual([0, 0]);
    expect(await tableChecksum(owner, tableName, orgB.id)).toBe(before);
  });

  it("no row can be written for org B by org A, nor reference B's person; A's member writes A's own", async () => {
    const template = rowsB.get(tableName)!;
    expect(
      await asOwnerOfA((client) =>
        sqlstateOf(
          client.query(`insert into ${quoteTable(tableName)} (organisation_id, person_id, body) values ($1, $2, 'x')`, [
            orgB.id,
            template.person_id,
          ]),
        ),
      ),
    ).toBe("42501");
    expect(
      await asOwnerOfA((client) =>
        sqlstateOf(
          client.query(`insert into ${quoteTable(tableName)} (person_id, body) values ($1, 'x')`, [template.person_id]),
        ),
      ),
    ).toBe("23503");
    const inserted = await asMember(owner, { organisationId: orgA.id, userId: orgA.users.member }, async (client) => {
      const { rows } = await client.query(
        `insert into ${quoteTable(tableName)} (person_id, body) values ($1, 'a note') returning organisation_id`,
        [rowsA.get(tableName)!.person_id],
      );
      return rows[0].organisation_id;
    });
    expect(inserted).toBe(orgA.id);
  });

  it("a viewer cannot write a note (require_permission refuses); the viewer still reads them", async () => {
    const viewer = { organisationId: orgA.id, userId: orgA.users.viewer };
    const code = await asMember(owner, viewer, (client) =>
      sqlstateOf(
        client.query(`insert into ${quoteTable(tableName)} (person_id, body) values ($1, 'x')`, [
          rowsA.get(tableName)!.person_id,
        ]),
      ),
    );
    expect(code).toBe("PT004");
    const seen = await asMember(owner, viewer, async (client) => {
      const { rows } = await client.query(`select count(*)::int as n from ${quoteTable(tableName)}`);
      return rows[0].n;
    });
    expect(seen).toBeGreaterThan(0);
  });

  it("the GraphQL API gets notes and createNote: a member of A writes and lists A's notes only", async () => {
    const server = await startServerFor(scratch.urls);
    try {
      const created = await graphql(
        server,
        `
          mutation ($person: UUID!) {
            createNote(input: { note: { personId: $person, body: "Called back" } }) {
              note {
                organisationId
                body
              }
            }
          }
        `,
        { token: memberToken(orgA, "member"), variables: { person: rowsA.get(tableName)!.person_id } },
      );
      expect(created.body.errors, JSON.stringify(created.body.errors)).toBeUndefined();
      expect(created.body.data!.createNote.note).toEqual({ organisationId: orgA.id, body: "Called back" });
      const listed = await graphql(
        server,
        `
          {
            notes {
              nodes {
                organisationId
              }
            }
          }
        `,
        {
          token: memberToken(orgA, "member"),
        },
      );
      expect(listed.body.errors, JSON.stringify(listed.body.errors)).toBeUndefined();
      const owners = new Set(listed.body.data!.notes.nodes.map((n: { organisationId: string }) => n.organisationId));
      expect([...owners]).toEqual([orgA.id]);
    } finally {
      await server.close();
    }
  });

  describe("then its revert part", () => {
    beforeAll(async () => {
      await applyAsMigration(revert!, "README recipe revert");
    });

    it("removes the table, and the API schemas hold exactly the tables they held before the recipe", async () => {
      const { rows } = await owner.query("select to_regclass($1) as table", [tableName]);
      expect(rows[0].table).toBeNull();
      const after = (await listTables(owner)).map((t) => t.name);
      expect(after).toEqual(tables.map((t) => t.name).filter((name) => name !== tableName));
    });
  });
});
