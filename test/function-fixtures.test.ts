// Every database function's current definition lives in one file, migrations/fixtures/<schema>/<name>.sql
// (README "Changing a function"): each function of the project's schemas has its file, each file
// defines a function that exists, and running every file against the migrated database changes
// nothing — so a function changed by a migration without its file (or a file edited without a
// migration including it) fails here.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { ANONYMOUS_ROLE, VISITOR_ROLE } from "../src/db/roles.ts";
import { ownerPool } from "./helpers/database.ts";

const FIXTURES = path.join(projectRoot, "migrations", "fixtures");
const SCHEMAS = ["app_hidden", "app_private", "iam", "crm", "outreach", "tracking", "reference"];
const owner = ownerPool();

afterAll(async () => {
  await owner.end();
});

function fixtureFiles(): string[] {
  return readdirSync(FIXTURES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((schema) =>
      readdirSync(path.join(FIXTURES, schema.name))
        .filter((file) => file.endsWith(".sql"))
        .map((file) => `${schema.name}/${file}`),
    )
    .sort();
}

/** What a function is, from the catalog: its text, signature, settings, comment and rights. */
const FUNCTIONS = `
  select format('%s/%s.sql', n.nspname, p.proname) as file,
         format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as signature,
         md5(pg_get_functiondef(p.oid)) as definition,
         coalesce(obj_description(p.oid, 'pg_proc'), '') as comment,
         coalesce(p.proacl::text, '') as rights
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname = any($1)
     and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
   order by 2`;

it("every function of the project's schemas has its file under migrations/fixtures/, and every file a function", async () => {
  const { rows } = await owner.query<{ file: string }>(FUNCTIONS, [SCHEMAS]);
  const files = new Set(fixtureFiles());
  const missing = [...new Set(rows.map((row) => row.file))].filter((file) => !files.has(file));
  expect(missing, "functions without a file in migrations/fixtures/ (write one: README, Changing a function)").toEqual(
    [],
  );
  const defined = new Set(rows.map((row) => row.file));
  expect(
    [...files].filter((file) => !defined.has(file)),
    "files whose function does not exist",
  ).toEqual([]);
});

it("running every fixture file against the migrated database changes no function (they hold the current definitions)", async () => {
  const client = await owner.connect();
  try {
    await client.query("begin");
    const before = (await client.query(FUNCTIONS, [SCHEMAS])).rows;
    for (const file of fixtureFiles()) {
      const sql = readFileSync(path.join(FIXTURES, file), "utf8")
        .replaceAll(":DATABASE_VISITOR", VISITOR_ROLE)
        .replaceAll(":DATABASE_ANONYMOUS", ANONYMOUS_ROLE);
      await client.query(sql);
    }
    const after = (await client.query(FUNCTIONS, [SCHEMAS])).rows;
    expect(after).toEqual(before);
  } finally {
    await client.query("rollback");
    client.release();
  }
});
