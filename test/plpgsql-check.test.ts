// plpgsql_check on every PL/pgSQL function of the schema (committed migrations + the current one),
// with its default checks (errors, warnings, extra warnings): each finding fails the test, except
// the known ones listed below. Where the extension is not installed (the embedded PostgreSQL of
// `npm test`) the test passes with a note saying so; `npm run test:ops` runs it on PostgreSQL 15,
// where scripts/install-plpgsql-check.sh installs it.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCurrentMigrationOnce } from "../src/db/migrations.ts";
import { withDatabase } from "../src/db/connection-urls.ts";
import { createLogger } from "../src/logger.ts";
import { testDatabase } from "./helpers/database.ts";
import { createScratchDatabase, type ScratchDatabase } from "./helpers/scratch-database.ts";

/**
 * Findings in functions another change rewrites: reported as notes, not failures. Remove an entry
 * when its function is clean (the test says so).
 */
const KNOWN_FINDINGS: Array<{ function: string; message: string; why: string }> = [
  {
    function: "app_hidden.delete_organisation_data(uuid,uuid)",
    message: "target type is different type than source type",
    why: "its `rows_removed jsonb := '{}'` (untyped literal); the function is being rewritten in another change today",
  },
];

interface Finding {
  function: string;
  relation: string | null;
  level: string;
  message: string;
  detail: string | null;
  line: number | null;
  statement: string | null;
}

const describeFinding = (f: Finding) =>
  `${f.function}${f.relation ? ` (trigger on ${f.relation})` : ""}: ${f.level} "${f.message}"` +
  `${f.detail ? ` (${f.detail})` : ""} at line ${f.line ?? "?"} (${f.statement ?? "?"})`;

let scratch: ScratchDatabase;
let root: pg.Client;
let available: boolean;

beforeAll(async () => {
  const logger = createLogger("silent");
  scratch = await createScratchDatabase(testDatabase().serverRootUrl, "plpgsqlcheck");
  await runCurrentMigrationOnce(scratch.urls, logger);
  root = new pg.Client({ connectionString: withDatabase(testDatabase().serverRootUrl, scratch.name) });
  await root.connect();
  const { rowCount } = await root.query("select 1 from pg_available_extensions where name = 'plpgsql_check'");
  available = rowCount === 1;
  if (available) await root.query("create extension plpgsql_check");
});

afterAll(async () => {
  await root?.end();
  // graphile-migrate keeps its pool 200 ms after a command; dropping the database under it would crash the run.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await scratch?.drop();
});

it("every PL/pgSQL function passes plpgsql_check (where the extension is installed)", async ({ annotate }) => {
  if (!available) {
    const { rows } = await root.query<{ version: string }>("select current_setting('server_version') as version");
    const note =
      `plpgsql_check is not installed on this PostgreSQL ${rows[0]!.version}: nothing was checked here. ` +
      "`npm run test:ops` checks on PostgreSQL 15 (scripts/install-plpgsql-check.sh installs it).";
    console.warn(note);
    await annotate(note, "notice");
    return;
  }
  // Planned as a request runs them: with tenant settings (the planner evaluates stable helpers
  // such as setting_as_uuid('app.session_id') to estimate selectivity, and they fail closed without).
  await root.query("begin");
  try {
    await root.query(
      "select set_config('app.organisation_id', $1, true), set_config('app.user_id', $2, true), set_config('app.session_id', $3, true)",
      [randomUUID(), randomUUID(), randomUUID()],
    );
    const { rows: checked } = await root.query<{ count: number }>(
      `select count(*)::int as count from pg_proc p join pg_language l on l.oid = p.prolang
        where l.lanname = 'plpgsql' and p.pronamespace::regnamespace::text not in ('pg_catalog', 'information_schema')
          and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')`,
    );
    // Trigger functions are checked once per table that fires them (NEW and OLD are that table's rows).
    const { rows } = await root.query<Finding>(
      `with targets as (
         select p.oid as fn, t.tgrelid as rel, p.prorettype = 'trigger'::regtype as is_trigger
           from pg_proc p
           join pg_language l on l.oid = p.prolang
           left join lateral (select distinct tgrelid from pg_trigger where tgfoid = p.oid) t on true
          where l.lanname = 'plpgsql'
            and p.pronamespace::regnamespace::text not in ('pg_catalog', 'information_schema')
            and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
       )
       select fn::regprocedure::text as function, rel::regclass::text as relation, r.level, r.message,
              r.detail, r.lineno as line, r.statement
         from targets
        cross join lateral plpgsql_check_function_tb(fn, coalesce(rel, 0), fatal_errors => false) r
        where not (is_trigger and rel is null)
       union all
       select fn::regprocedure::text, null, 'unchecked', 'trigger function that no trigger uses', null, null, null
         from targets where is_trigger and rel is null`,
    );
    const known = (f: Finding) => KNOWN_FINDINGS.some((k) => k.function === f.function && k.message === f.message);
    const notes = [
      `plpgsql_check ran on ${checked[0]!.count} PL/pgSQL functions.`,
      ...rows.filter(known).map((f) => `known, not failing: ${describeFinding(f)}`),
      ...KNOWN_FINDINGS.filter((k) => !rows.some((f) => f.function === k.function && f.message === k.message)).map(
        (k) => `${k.function} is now clean of "${k.message}": remove it from KNOWN_FINDINGS`,
      ),
    ];
    for (const note of notes) {
      console.warn(note);
      await annotate(note, "notice");
    }
    expect(checked[0]!.count).toBeGreaterThan(10);
    expect(rows.filter((f) => !known(f)).map(describeFinding)).toEqual([]);
  } finally {
    await root.query("rollback");
  }
});
