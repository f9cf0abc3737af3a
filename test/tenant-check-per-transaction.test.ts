// The tenant check is made once per transaction (app_hidden.current_member_role keeps its result,
// keyed by the tenant settings) and is still exact: nothing verified leaks into another
// transaction or other settings, and a membership, organisation or session change made earlier
// in the same transaction is seen by the next statement. Its fast path is inlined into policies.
import { afterAll, beforeAll, expect, it } from "vitest";
import { VISITOR_ROLE } from "../src/db/roles.ts";
import { createOrganisation, ownerPool, sqlstateOf, type TestOrganisation } from "./helpers/database.ts";

const owner = ownerPool();
let orgA: TestOrganisation;
let orgB: TestOrganisation;

beforeAll(async () => {
  orgA = await createOrganisation(owner, "once-a");
  orgB = await createOrganisation(owner, "once-b");
});

afterAll(async () => {
  await owner.end();
});

/** One connection, one transaction (rolled back), settings changed at will between statements. */
async function inTransaction(work: (client: import("pg").PoolClient) => Promise<void>): Promise<void> {
  const client = await owner.connect();
  try {
    await client.query("begin");
    await work(client);
  } finally {
    await client.query("rollback");
    client.release();
  }
}

async function actAs(
  client: import("pg").PoolClient,
  organisationId: string,
  userId: string,
  sessionId = "",
): Promise<void> {
  await client.query(
    `select set_config('role', $1, true), set_config('app.organisation_id', $2, true),
            set_config('app.user_id', $3, true), set_config('app.session_id', $4, true)`,
    [VISITOR_ROLE, organisationId, userId, sessionId],
  );
}

const countPeople = (client: import("pg").PoolClient) => client.query("select count(*) from crm.people");

/** The SQLSTATE a statement fails with; a savepoint keeps the transaction usable afterwards. */
async function failureOf(
  client: import("pg").PoolClient,
  statement: Promise<unknown> | (() => Promise<unknown>),
): Promise<string> {
  await client.query("savepoint expected_failure");
  const code = await sqlstateOf(typeof statement === "function" ? statement() : statement);
  await client.query("rollback to savepoint expected_failure");
  return code;
}

it("a check verified in one transaction does not carry over to the next one on the same connection", async () => {
  const client = await owner.connect();
  try {
    await client.query("begin");
    await actAs(client, orgA.id, orgA.users.member);
    await countPeople(client);
    await client.query("commit");
    await client.query("begin");
    await client.query("set local role prospectflow_visitor");
    expect(await sqlstateOf(countPeople(client))).toBe("PT001");
    await client.query("rollback");
  } finally {
    client.release();
  }
});

it("no settings at all fail closed, also once a check was verified and forgotten", async () => {
  await inTransaction(async (client) => {
    await actAs(client, orgA.id, orgA.users.member);
    await countPeople(client);
    await client.query("select set_config('app.organisation_id', '', true), set_config('app.user_id', '', true)");
    expect(await sqlstateOf(countPeople(client))).toBe("PT001");
  });
});

it("other settings in the same transaction are checked again", async () => {
  await inTransaction(async (client) => {
    await actAs(client, orgA.id, orgA.users.member);
    await countPeople(client);
    await actAs(client, orgA.id, orgB.users.member);
    expect(await failureOf(client, () => countPeople(client))).toBe("PT003");
    await actAs(client, orgB.id, orgB.users.member);
    await countPeople(client);
  });
});

it("a membership disabled earlier in the same transaction is refused by the next statement", async () => {
  await inTransaction(async (client) => {
    await actAs(client, orgA.id, orgA.users.viewer);
    await countPeople(client);
    await client.query("reset role");
    await client.query(
      "update iam.organisation_users set status = 'disabled' where organisation_id = $1 and user_id = $2",
      [orgA.id, orgA.users.viewer],
    );
    await client.query("set local role prospectflow_visitor");
    expect(await sqlstateOf(countPeople(client))).toBe("PT003");
  });
});

it("an organisation suspended earlier in the same transaction is refused by the next statement", async () => {
  await inTransaction(async (client) => {
    await actAs(client, orgA.id, orgA.users.member);
    await countPeople(client);
    await client.query("reset role");
    await client.query("update iam.organisations set status = 'suspended' where id = $1", [orgA.id]);
    await client.query("set local role prospectflow_visitor");
    expect(await sqlstateOf(countPeople(client))).toBe("PT006");
  });
});

it("a session revoked earlier in the same transaction is refused by the next statement", async () => {
  await inTransaction(async (client) => {
    const { rows } = await client.query<{ session_id: string }>(
      "select (app_hidden.start_session($1, $2, 3600)).session_id",
      [orgA.users.member, orgA.id],
    );
    await actAs(client, orgA.id, orgA.users.member, rows[0]!.session_id);
    await countPeople(client);
    await client.query("reset role");
    await client.query("update app_private.sessions set revoked_at = now() where id = $1", [rows[0]!.session_id]);
    await client.query("set local role prospectflow_visitor");
    expect(await sqlstateOf(countPeople(client))).toBe("PT005");
  });
});

it("a role changed earlier in the same transaction is the role the next write is checked with", async () => {
  await inTransaction(async (client) => {
    await actAs(client, orgA.id, orgA.users.admin);
    await client.query("insert into crm.companies (name) values ('Allowed while admin')");
    await client.query("reset role");
    await client.query(
      "update iam.organisation_users set role = 'viewer' where organisation_id = $1 and user_id = $2",
      [orgA.id, orgA.users.admin],
    );
    await client.query("set local role prospectflow_visitor");
    expect(await sqlstateOf(client.query("insert into crm.companies (name) values ('Refused as viewer')"))).toBe(
      "PT004",
    );
  });
});

it("policies inline the fast path: no function call once the check is verified", async () => {
  await inTransaction(async (client) => {
    await actAs(client, orgA.id, orgA.users.member);
    const { rows } = await client.query<{ "QUERY PLAN": string }>(
      "explain (verbose, costs off) select * from crm.people",
    );
    const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(plan).toContain("current_setting('app_hidden.verified_member'");
    expect(plan).not.toContain("current_organisation_id()");
  });
});
