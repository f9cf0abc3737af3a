// The extensions' functions are not part of the API (issue 14, item 4; Supabase splinter lint
// 0014): no extension may move into `public` besides citext (which only a superuser can move, see
// migrations/current/200-extensions-out-of-public.sql), and the API roles may execute no function
// of schema public or extensions beyond ALLOWED (src/db/sql/extension-rights.sql grants exactly
// these, as the superuser, after the migrations).
import { afterAll, describe, expect, it } from "vitest";
import { ANONYMOUS_ROLE, VISITOR_ROLE } from "../src/db/roles.ts";
import { asMember, ownerPool, sqlstateOf } from "./helpers/database.ts";

const owner = ownerPool();

afterAll(async () => {
  await owner.end();
});

const CITEXT_OPERATORS =
  "behind a citext operator: the visitor's inserts evaluate the email CHECK constraints (~), and PostGraphile's " +
  "conditions, filters and ordering on email columns compare citext values (=, <>, <, <=, >, >=, LIKE, ~)";

/** Role → function → why the role's own queries need it. */
const ALLOWED: Record<string, Record<string, string>> = {
  [VISITOR_ROLE]: {
    ...Object.fromEntries(
      [
        "citext_eq(citext,citext)",
        "citext_ne(citext,citext)",
        "citext_lt(citext,citext)",
        "citext_le(citext,citext)",
        "citext_gt(citext,citext)",
        "citext_ge(citext,citext)",
        "citext_pattern_lt(citext,citext)",
        "citext_pattern_le(citext,citext)",
        "citext_pattern_gt(citext,citext)",
        "citext_pattern_ge(citext,citext)",
        "texticlike(citext,citext)",
        "texticlike(citext,text)",
        "texticnlike(citext,citext)",
        "texticnlike(citext,text)",
        "texticregexeq(citext,citext)",
        "texticregexeq(citext,text)",
        "texticregexne(citext,citext)",
        "texticregexne(citext,text)",
      ].map((fn) => [fn, CITEXT_OPERATORS]),
    ),
    "extensions.unaccent(regdictionary,text)":
      "app_hidden.search_text (inlined into the search and evaluated by the search_document index expressions on the visitor's writes)",
    "extensions.word_similarity(text,text)": "the search's ranking (src/graphql/search-plugin.ts orders by it)",
  },
  [ANONYMOUS_ROLE]: {},
};

const EXECUTABLE = `
  select p.oid::regprocedure::text as fn
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname in ('public', 'extensions') and has_function_privilege($1, p.oid, 'execute')
   order by 1`;

describe("extensions out of public", () => {
  it("no extension lives in public but citext (a superuser's move, still to do)", async () => {
    const { rows } = await owner.query<{ extname: string }>(
      `select e.extname from pg_extension e join pg_namespace n on n.oid = e.extnamespace
        where n.nspname = 'public' order by 1`,
    );
    expect(rows.map((row) => row.extname)).toEqual(["citext"]);
    const { rows: moved } = await owner.query<{ extname: string }>(
      `select e.extname from pg_extension e join pg_namespace n on n.oid = e.extnamespace
        where n.nspname = 'extensions' order by 1`,
    );
    expect(moved.map((row) => row.extname)).toEqual(["btree_gin", "pg_trgm", "pgcrypto", "unaccent"]);
  });

  for (const role of [VISITOR_ROLE, ANONYMOUS_ROLE]) {
    it(`${role} may execute no function of public or extensions beyond its allow-list`, async () => {
      const { rows } = await owner.query<{ fn: string }>(EXECUTABLE, [role]);
      expect(rows.map((row) => row.fn).sort()).toEqual(Object.keys(ALLOWED[role] ?? {}).sort());
    });
  }

  it("only the visitor may use schema extensions", async () => {
    const { rows } = await owner.query<{ visitor: boolean; anonymous: boolean; everyone: boolean }>(
      `select has_schema_privilege($1, 'extensions', 'usage') as visitor,
              has_schema_privilege($2, 'extensions', 'usage') as anonymous,
              exists (select 1 from pg_namespace n, aclexplode(n.nspacl) a
                       where n.nspname = 'extensions' and a.grantee = 0) as everyone`,
      [VISITOR_ROLE, ANONYMOUS_ROLE],
    );
    expect(rows[0]).toEqual({ visitor: true, anonymous: false, everyone: false });
  });

  it("the visitor cannot call pgcrypto, but compares citext values", async () => {
    const member = { organisationId: null, userId: null };
    expect(
      await sqlstateOf(asMember(owner, member, (client) => client.query("select extensions.gen_random_bytes(16)"))),
    ).toBe("42501");
    expect(
      await sqlstateOf(
        asMember(owner, member, (client) =>
          client.query("select extensions.crypt('secret', extensions.gen_salt('bf'))"),
        ),
      ),
    ).toBe("42501");
    const { rows } = await asMember(owner, member, (client) =>
      client.query<{ same: boolean; matches: boolean }>(
        "select 'Léa@Example.com'::citext = 'léa@example.COM'::citext as same, 'A@B'::citext ~ '^a@b$' as matches",
      ),
    );
    expect(rows[0]).toEqual({ same: true, matches: true });
  });

  it("the owner's security-definer functions still call pgcrypto (a login hashes with crypt)", async () => {
    const { rows } = await owner.query<{ ok: boolean }>(
      "select extensions.crypt('x', extensions.gen_salt('bf', 4)) like '$2a$04$%' as ok",
    );
    expect(rows[0]?.ok).toBe(true);
  });
});
