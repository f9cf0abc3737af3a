// Structural rules every table of the API schemas must follow, checked against the live catalog
// so that a new table is held to them the day it is added.
import { readFileSync } from "node:fs";
import JSON5 from "json5";
import { afterAll, describe, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { ANONYMOUS_ROLE, VISITOR_ROLE } from "../src/db/roles.ts";
import { API_SCHEMAS, GLOBAL_TABLES, listTables } from "./helpers/catalog.ts";
import { ownerPool, testDatabase } from "./helpers/database.ts";

const owner = ownerPool();
const tables = await listTables(owner);
const servingRoles = [testDatabase().authenticatorRole, VISITOR_ROLE, ANONYMOUS_ROLE];

/** Indexes that serve a global (cross-tenant) lookup on purpose say so in their comment. */
const GLOBAL_LOOKUP_COMMENT = /^Global lookup by design: /;

afterAll(async () => {
  await owner.end();
});

it("the only tables without organisation_id are the global ones", () => {
  expect(tables.filter((t) => !t.isTenantTable).map((t) => t.name)).toEqual(GLOBAL_TABLES);
});

describe.each(tables.map((t) => [t.name, t] as const))("%s", (name, table) => {
  it("has row-level security enabled", async () => {
    const { rows } = await owner.query("select relrowsecurity from pg_class where oid = $1::regclass", [name]);
    expect(rows[0].relrowsecurity).toBe(true);
  });

  it("has a policy for select, insert, update and delete", async () => {
    const { rows } = await owner.query<{ polcmd: string }>(
      "select polcmd from pg_policy where polrelid = $1::regclass",
      [name],
    );
    const commands = new Set(rows.flatMap((r) => (r.polcmd === "*" ? ["r", "a", "w", "d"] : [r.polcmd])));
    expect([...commands].sort()).toEqual(["a", "d", "r", "w"]);
  });

  it("calls the tenant helpers only inside (select …), so they run once per statement", async () => {
    const { rows } = await owner.query<{ name: string; expression: string }>(
      `select polname as name,
              concat_ws(' AND ', pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)) as expression
         from pg_policy where polrelid = $1::regclass`,
      [name],
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const policy of rows) {
      const calls = policy.expression.match(/app_hidden\.\w+\(/g) ?? [];
      const wrapped = policy.expression.match(/\(\s*SELECT app_hidden\.\w+\(/g) ?? [];
      expect(calls.length, `${name} policy ${policy.name}: ${policy.expression}`).toBeGreaterThan(0);
      expect(wrapped.length, `${name} policy ${policy.name}: ${policy.expression}`).toBe(calls.length);
      expect(policy.expression).toMatch(/app_hidden\.(current_organisation_id|current_user_id)\(\)/);
    }
  });

  it("has a comment saying what it is for", async () => {
    const { rows } = await owner.query("select obj_description($1::regclass, 'pg_class') as comment", [name]);
    expect(rows[0].comment ?? "").not.toBe("");
  });

  if (table.isTenantTable) {
    it("has a primary key led by organisation_id", () => {
      expect(table.primaryKey[0]).toBe("organisation_id");
    });

    it("has only foreign keys that include organisation_id (or point at the global users table)", () => {
      for (const fk of table.foreignKeys) {
        if (fk.referencedTable === "iam.users") continue;
        expect(fk.columns, fk.name).toContain("organisation_id");
      }
    });
  }

  it("has an index serving every foreign key, led by organisation_id for tenant keys", async () => {
    const { rows: indexes } = await owner.query<{ name: string; columns: string[]; comment: string | null }>(
      `select format('%s.%s', n.nspname, i.relname) as name, obj_description(i.oid, 'pg_class') as comment,
              array(select a.attname from unnest(x.indkey) with ordinality u(n, k)
                      join pg_attribute a on a.attrelid = x.indrelid and a.attnum = u.n order by u.k)::text[] as columns
         from pg_index x join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
        where x.indrelid = $1::regclass`,
      [name],
    );
    for (const fk of table.foreignKeys) {
      const served = indexes.some((index) => {
        const leading = index.columns.slice(0, fk.columns.length);
        return (
          leading.length === fk.columns.length &&
          fk.columns.every((c) => leading.includes(c)) &&
          (!fk.columns.includes("organisation_id") || leading[0] === "organisation_id")
        );
      });
      expect(served, `${fk.name} (${fk.columns.join(", ")}) has no index`).toBe(true);
    }
    if (table.isTenantTable) {
      for (const index of indexes) {
        if (GLOBAL_LOOKUP_COMMENT.test(index.comment ?? "")) continue;
        expect(index.columns[0], `${index.name} must lead with organisation_id`).toBe("organisation_id");
      }
    }
  });

  it("is owned by the database owner, not by a serving role", async () => {
    const { rows } = await owner.query(
      "select pg_get_userbyid(relowner) as owner from pg_class where oid = $1::regclass",
      [name],
    );
    expect(servingRoles).not.toContain(rows[0].owner);
  });
});

it("no serving role is a superuser, has BYPASSRLS, owns the database or anything in the API schemas", async () => {
  const { rows } = await owner.query(
    `select r.rolname, r.rolsuper, r.rolbypassrls, r.rolinherit,
            exists (select 1 from pg_database d where d.datdba = r.oid) as owns_a_database,
            exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                     where c.relowner = r.oid and n.nspname = any($2)) as owns_a_table
       from pg_roles r where r.rolname = any($1) order by r.rolname`,
    [servingRoles, [...API_SCHEMAS, "app_hidden", "app_private"]],
  );
  expect(rows).toHaveLength(3);
  for (const role of rows) {
    expect(role, role.rolname).toMatchObject({
      rolsuper: false,
      rolbypassrls: false,
      owns_a_database: false,
      owns_a_table: false,
    });
  }
  const authenticator = rows.find((r) => r.rolname === testDatabase().authenticatorRole);
  expect(authenticator.rolinherit).toBe(false);
});

it("no API role can read password hashes", async () => {
  for (const role of servingRoles) {
    const { rows } = await owner.query(
      "select has_table_privilege($1, 'app_private.user_secrets', 'select') as readable, has_schema_privilege($1, 'app_private', 'usage') as usable",
      [role],
    );
    expect(rows[0], role).toEqual({ readable: false, usable: false });
  }
});

it("no function in the API schemas or app_hidden is executable by PUBLIC", async () => {
  const { rows } = await owner.query(
    `select p.oid::regprocedure::text as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any($1) and has_function_privilege('public', p.oid, 'execute')`,
    [[...API_SCHEMAS, "app_hidden", "app_private"]],
  );
  expect(rows).toEqual([]);
});

it("every security definer function pins its search_path", async () => {
  const { rows } = await owner.query(
    `select p.oid::regprocedure::text as name, p.proconfig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any($1) and p.prosecdef`,
    [[...API_SCHEMAS, "app_hidden", "app_private"]],
  );
  expect(rows.length).toBeGreaterThan(0);
  for (const fn of rows) {
    expect(fn.proconfig ?? [], fn.name).toContain("search_path=pg_catalog, pg_temp");
  }
});

it(".gmrc's role placeholders match the role names the server uses", () => {
  const gmrc = JSON5.parse(readFileSync(`${projectRoot}/.gmrc`, "utf8")) as { placeholders: Record<string, string> };
  expect(gmrc.placeholders[":DATABASE_VISITOR"]).toBe(VISITOR_ROLE);
  expect(gmrc.placeholders[":DATABASE_ANONYMOUS"]).toBe(ANONYMOUS_ROLE);
});
