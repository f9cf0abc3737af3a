// src/db/request-transaction.ts: each request's transaction opens with its settings in one round
// trip, the settings hold for exactly that transaction, values are quoted whatever they contain,
// an error rolls everything back, and nested transactions are savepoints.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeRequestWithPgClient, openingStatements } from "../src/db/request-transaction.ts";
import { VISITOR_ROLE } from "../src/db/roles.ts";
import { createOrganisation, ownerPool, testDatabase, type TestOrganisation } from "./helpers/database.ts";

const owner = ownerPool();
// One connection: every request reuses it, so whatever leaked from one would show in the next.
const pool = new pg.Pool({ connectionString: testDatabase().urls.authenticatorUrl, max: 1 });
const withPgClient = makeRequestWithPgClient(pool);
let org: TestOrganisation;

/** The texts the pool's connection is sent, in order, while `work` runs. */
async function sentWhile(work: () => Promise<unknown>): Promise<string[]> {
  const client = await pool.connect();
  const original = client.query.bind(client);
  const sent: string[] = [];
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0];
    sent.push(typeof first === "string" ? first : (first as { text: string }).text);
    return (original as (...a: unknown[]) => unknown)(...args);
  };
  client.release();
  try {
    await work();
  } finally {
    const again = await pool.connect();
    (again as unknown as { query: unknown }).query = original;
    again.release();
  }
  return sent;
}

const settingsOf = (o: TestOrganisation) => ({
  role: VISITOR_ROLE,
  "app.organisation_id": o.id,
  "app.user_id": o.users.member,
  "app.session_id": o.sessions.member,
  statement_timeout: "4321",
});

beforeAll(async () => {
  org = await createOrganisation(owner, "rtx");
});

afterAll(async () => {
  await pool.end();
  await owner.end();
});

describe("a request's transaction", () => {
  it("opens with begin and every setting in one round trip, runs the queries, then commits", async () => {
    let seen: Record<string, string> | undefined;
    const sent = await sentWhile(() =>
      withPgClient(settingsOf(org), async (client) => {
        const { rows } = await client.query<{ role: string; org: string; timeout: string; level: string }>({
          text: "select current_user as role, current_setting('app.organisation_id') as org, current_setting('statement_timeout') as timeout, (select count(*) from crm.people)::text as level",
        });
        seen = rows[0] as unknown as Record<string, string>;
      }),
    );
    expect(seen).toMatchObject({ role: VISITOR_ROLE, org: org.id, timeout: "4321ms" });
    expect(sent).toHaveLength(3);
    expect(sent[0]).toMatch(/^(set jit_optimize_above_cost = -1; )?begin; select set_config\('role', /);
    expect(sent[2]).toBe("commit");
  });

  it("leaves nothing behind: the next request on the same connection sees no setting and no open transaction", async () => {
    await withPgClient(settingsOf(org), async (client) => client.query({ text: "select 1" }));
    const { rows } = await pool.query<{ org: string | null; role: string; open: boolean }>(
      "select nullif(current_setting('app.organisation_id', true), '') as org, current_user as role, now() <> statement_timestamp() as open",
    );
    expect(rows[0]).toEqual({ org: null, role: expect.not.stringMatching(VISITOR_ROLE) as unknown, open: false });
  });

  it("quotes every value: quotes, backslashes and semicolons are set verbatim, never run", async () => {
    const hostile = "x'); select pg_sleep(5); --\\'";
    const value = await withPgClient({ ...settingsOf(org), "app.probe": hostile }, async (client) => {
      const { rows } = await client.query<{ v: string }>({ text: "select current_setting('app.probe') as v" });
      return rows[0]!.v;
    });
    expect(value).toBe(hostile);
    const quote = { escapeLiteral: (text: string) => pg.Client.prototype.escapeLiteral(text) };
    expect(openingStatements(quote, [["app.probe", hostile]], false)).toBe(
      `begin; select set_config('app.probe', ${quote.escapeLiteral(hostile)}, true)`,
    );
  });

  it("rolls back on an error (in a query or in the settings) and the connection serves the next request", async () => {
    const email = `rtx-${Date.now()}@rollback.test`;
    await expect(
      withPgClient(settingsOf(org), async (client) => {
        await client.query({
          text: "insert into crm.people (first_name, last_name, email, status) values ('R', 'T', $1, 'new')",
          values: [email],
        });
        await client.query({ text: "select 1/0" });
      }),
    ).rejects.toThrow(/division by zero/);
    await expect(withPgClient({ ...settingsOf(org), role: "no_such_role" }, async () => 1)).rejects.toThrow(
      /no_such_role/,
    );
    const { rows } = await owner.query("select 1 from crm.people where email = $1", [email]);
    expect(rows).toEqual([]);
    const after = await withPgClient(settingsOf(org), async (client) =>
      client.query<{ n: number }>({ text: "select 1 as n" }),
    );
    expect(after.rows).toEqual([{ n: 1 }]);
  });

  it("runs a nested transaction as a savepoint: its failure undoes only its own writes", async () => {
    const [kept, undone] = [`rtx-kept-${Date.now()}@nested.test`, `rtx-undone-${Date.now()}@nested.test`];
    const insert = "insert into crm.people (first_name, last_name, email, status) values ('N', 'T', $1, 'new')";
    const sent = await sentWhile(() =>
      withPgClient(settingsOf(org), async (client) => {
        await client.query({ text: insert, values: [kept] });
        await client
          .withTransaction(async (nested) => {
            await nested.query({ text: insert, values: [undone] });
            throw new Error("undo the nested part");
          })
          .catch(() => {});
      }),
    );
    expect(sent.some((text) => /^savepoint /.test(text))).toBe(true);
    const { rows } = await owner.query<{ email: string }>(
      "select email from crm.people where email in ($1, $2) order by email",
      [kept, undone],
    );
    expect(rows.map((r) => r.email)).toEqual([kept]);
  });

  it("runs without a transaction when there are no settings (as PostGraphile's adaptor does)", async () => {
    const sent = await sentWhile(() => withPgClient(null, async (client) => client.query({ text: "select 1" })));
    expect(sent).toEqual(["select 1"]);
  });
});
