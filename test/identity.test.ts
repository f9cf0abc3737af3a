// Identity and tenant lifecycle over GraphQL (and SQL where it proves more): sign-up, login,
// sessions and logout, switching organisations, members and ownership, the role matrix cell by
// cell, settings and suspension, the audit log, and GDPR deletion of an organisation. Sign-up goes
// through the mailbox (a real SMTP server catches the verification and invitation links), so the
// file runs on a database of its own with the server's mailer on.
import pg from "pg";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import type { RunningServer } from "../src/server.ts";
import { listTables, quoteTable } from "./helpers/catalog.ts";
import { asMember, createOrganisation, ROLES, type Role, type TestOrganisation } from "./helpers/database.ts";
import { graphql } from "./helpers/http-server.ts";
import { startMailCatcher, type MailCatcher } from "./helpers/mail-catcher.ts";
import { createOwnDatabase, type OwnDatabase } from "./helpers/membership-database.ts";
import { sampleRowsFor } from "./helpers/row-factory.ts";
import { startServerFor } from "./helpers/server-for-database.ts";
import { memberToken, sessionToken } from "./helpers/tokens.ts";

let own: OwnDatabase;
let owner: pg.Pool;
let catcher: MailCatcher;
let server: RunningServer;
const PASSWORD = "correct-horse-battery-42";

beforeAll(async () => {
  own = await createOwnDatabase("identity");
  owner = own.owner;
  catcher = await startMailCatcher();
  server = await startServerFor(own.database.urls, {
    MAILER: "in-process",
    SMTP_URL: catcher.url,
    MAIL_POLL_INTERVAL_MS: "50",
  });
});

afterAll(async () => {
  await server?.close();
  await catcher?.close();
  await own?.drop();
});

const uniqueEmail = (label: string) => `${label}.${randomBytes(4).toString("hex")}@example.test`;

async function call(query: string, variables: Record<string, unknown> = {}, token?: string) {
  return graphql(server, query, { variables, ...(token ? { token } : {}) });
}

const REGISTER = `mutation($email: String!, $password: String!, $name: String, $invitation: String) {
  register(input: { email: $email, password: $password, organisationName: $name, invitationToken: $invitation }) {
    message session { token userId organisationId expiresAt } } }`;
const LOGIN = `mutation($email: String!, $password: String!, $organisation: String) {
  login(input: { email: $email, password: $password, organisation: $organisation }) { token userId organisationId } }`;
const VERIFY = `mutation($token: String!) { verifyEmail(input: { token: $token }) { message } }`;

/** The link of the latest mail of this kind to this address, arrived after `after` messages. */
async function tokenMailed(email: string, kind: string, after: number): Promise<string> {
  const mail = await catcher.waitFor((m) => m.to === email && m.kind === kind && catcher.messages.indexOf(m) >= after);
  return mail.token!;
}

/** Signs up as a new user does: register, the verification link from the mailbox, then login. */
async function register(email = uniqueEmail("owner"), name = "Registered Org") {
  const mark = catcher.messages.length;
  const response = await call(REGISTER, { email, password: PASSWORD, name });
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  const verified = await call(VERIFY, { token: await tokenMailed(email, "email_verification", mark) });
  expect(verified.body.errors, JSON.stringify(verified.body.errors)).toBeUndefined();
  const login = await call(LOGIN, { email, password: PASSWORD });
  expect(login.body.errors, JSON.stringify(login.body.errors)).toBeUndefined();
  return { email, ...login.body.data!.login } as {
    email: string;
    token: string;
    userId: string;
    organisationId: string;
  };
}

const codeOf = (response: { body: { errors?: Array<{ extensions?: { code?: string } }> } }) =>
  response.body.errors?.[0]?.extensions?.code;

describe("sign-up", () => {
  it("creates the user, an organisation with a unique slug and the owner membership, and returns a working token", async () => {
    const first = await register(uniqueEmail("alice"), "Dupont & Fils");
    const second = await register(uniqueEmail("bob"), "Dupont & Fils");
    const { rows } = await owner.query(
      `select o.slug, m.role, m.status, s.password_hash like '$2a$10$%' as bcrypt
         from iam.organisations o join iam.organisation_users m on m.organisation_id = o.id
         join app_private.user_secrets s on s.user_id = m.user_id
        where o.id = any($1) order by o.created_at`,
      [[first.organisationId, second.organisationId]],
    );
    // The second gets a random suffix: a slug no longer tells how many organisations share a name.
    expect(rows.map((r) => r.slug)).toEqual([
      expect.stringMatching(/^dupont-fils(-[0-9a-f]{6})?$/),
      expect.stringMatching(/^dupont-fils-[0-9a-f]{6}$/),
    ]);
    expect(rows[0].slug).not.toBe(rows[1].slug);
    expect(rows.every((r) => r.role === "owner" && r.status === "active" && r.bcrypt)).toBe(true);
    const me = await call("{ organisations { nodes { id } } }", {}, first.token);
    expect(me.body.data?.organisations.nodes).toEqual([{ id: first.organisationId }]);
  });

  it("treats email as case-insensitive and unique: a second sign-up creates nothing and mails the owner", async () => {
    const email = uniqueEmail("case");
    const account = await register(email);
    const mark = catcher.messages.length;
    const again = await call(REGISTER, { email: email.toUpperCase(), password: PASSWORD, name: "Again" });
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data?.register.session).toBeNull();
    const notice = await catcher.waitFor(
      (m) => m.to === email && m.kind === "account_exists" && catcher.messages.indexOf(m) >= mark,
    );
    expect(notice.token).toBeUndefined();
    const { rows } = await owner.query(
      "select count(*)::int as n from iam.users u join iam.organisation_users m on m.user_id = u.id where u.email = $1::citext",
      [email],
    );
    expect(rows[0].n).toBe(1);
    expect((await call("{ organisations { nodes { id } } }", {}, account.token)).body.errors).toBeUndefined();
  });

  it.each([
    ["too short", "short1!"],
    ["letters only", "onlylettershere"],
    ["containing the email's name", "weakname-2024-x"],
  ])("refuses a weak password (%s) with WEAK_PASSWORD", async (_label, password) => {
    const response = await call(REGISTER, {
      email: `weakname@${randomBytes(3).toString("hex")}.example.test`,
      password,
      name: "Weak",
    });
    expect(codeOf(response)).toBe("WEAK_PASSWORD");
    expect(response.body.errors?.[0]?.message).toMatch(/^Weak password: /);
  });

  it("refuses a malformed email with INVALID_INPUT", async () => {
    expect(codeOf(await call(REGISTER, { email: "not-an-email", password: PASSWORD, name: "X" }))).toBe(
      "INVALID_INPUT",
    );
  });
});

describe("login", () => {
  it("returns a token for the user's only organisation, or the one named", async () => {
    const account = await register();
    const login = await call(LOGIN, { email: account.email.toUpperCase(), password: PASSWORD });
    expect(login.body.data?.login.organisationId).toBe(account.organisationId);
    // A second organisation: now the organisation must be named.
    const { rows } = await owner.query(
      "insert into iam.organisations (name, slug) values ('Second', $1) returning id",
      [`second-${randomBytes(4).toString("hex")}`],
    );
    await owner.query("insert into iam.organisation_users (organisation_id, user_id, role) values ($1, $2, 'viewer')", [
      rows[0].id,
      account.userId,
    ]);
    expect(codeOf(await call(LOGIN, { email: account.email, password: PASSWORD }))).toBe("ORGANISATION_REQUIRED");
    const { rows: slug } = await owner.query("select slug from iam.organisations where id = $1", [rows[0].id]);
    const named = await call(LOGIN, { email: account.email, password: PASSWORD, organisation: slug[0].slug });
    expect(named.body.data?.login.organisationId).toBe(rows[0].id);
    expect(codeOf(await call(LOGIN, { email: account.email, password: PASSWORD, organisation: "no-such-org" }))).toBe(
      "UNKNOWN_ORGANISATION",
    );
  });

  it("answers a wrong email and a wrong password the same way", async () => {
    const account = await register();
    const wrongPassword = await call(LOGIN, { email: account.email, password: "wrong-password-42" });
    const wrongEmail = await call(LOGIN, { email: uniqueEmail("nobody"), password: "wrong-password-42" });
    expect(codeOf(wrongPassword)).toBe("INVALID_CREDENTIALS");
    expect(wrongEmail.body.errors).toEqual(wrongPassword.body.errors);
  });

  it("takes the same bcrypt path whether the email exists or not (timing does not reveal accounts)", async () => {
    const account = await register();
    const time = async (email: string) => {
      const started = process.hrtime.bigint();
      await owner.query("select app_hidden.login($1, 'wrong-password-42', null, 60)", [email]).catch(() => {});
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time(account.email));
      unknown.push(await time(uniqueEmail("ghost")));
    }
    // bcrypt at cost 10 takes tens of milliseconds: both paths must pay it.
    expect(median(unknown)).toBeGreaterThan(10);
    expect(median(unknown) / median(known)).toBeGreaterThan(0.5);
    expect(median(unknown) / median(known)).toBeLessThan(2);
  });
});

describe("sessions", () => {
  it("logout revokes the token's session: the next request is refused with SESSION_REVOKED", async () => {
    const account = await register();
    const login = (await call(LOGIN, { email: account.email, password: PASSWORD })).body.data!.login;
    expect((await call("{ people { totalCount } }", {}, login.token)).body.errors).toBeUndefined();
    const logout = await call("mutation { logout(input: {}) { result } }", {}, login.token);
    expect(logout.body.data?.logout.result).toBe(true);
    const after = await call("{ people { totalCount } }", {}, login.token);
    expect(codeOf(after)).toBe("SESSION_REVOKED");
    // The registration token's own session is untouched.
    expect((await call("{ people { totalCount } }", {}, account.token)).body.errors).toBeUndefined();
  });

  it("switchOrganisation returns a token for another organisation of the user, and only those", async () => {
    const account = await register();
    const other = await register();
    // `account` joins `other`'s organisation as a viewer.
    await owner.query("insert into iam.organisation_users (organisation_id, user_id, role) values ($1, $2, 'viewer')", [
      other.organisationId,
      account.userId,
    ]);
    const SWITCH =
      "mutation($id: UUID!) { switchOrganisation(input: { organisationId: $id }) { token organisationId } }";
    const switched = await call(SWITCH, { id: other.organisationId }, account.token);
    expect(switched.body.data?.switchOrganisation.organisationId).toBe(other.organisationId);
    const seen = await call("{ organisations { nodes { id } } }", {}, switched.body.data!.switchOrganisation.token);
    expect(seen.body.data?.organisations.nodes).toEqual([{ id: other.organisationId }]);
    const stranger = await register();
    expect(codeOf(await call(SWITCH, { id: stranger.organisationId }, account.token))).toBe("NOT_A_MEMBER");
  });

  it("the password hash never appears in any answer", async () => {
    const account = await register();
    const response = await call(LOGIN, { email: account.email, password: PASSWORD });
    expect(response.text).not.toMatch(/\$2a\$/);
  });
});

describe("members and roles", () => {
  const INVITE =
    "mutation($email: String!, $role: String!) { inviteMember(input: { email: $email, role: $role }) { result { id email role status } } }";
  const ACCEPT =
    "mutation($token: String!) { acceptInvitation(input: { token: $token }) { result { userId role status } } }";

  /** Invites the address and returns the token of the link mailed to it. */
  async function invite(inviter: { token: string }, email: string, role: string) {
    const mark = catcher.messages.length;
    const invited = await call(INVITE, { email, role }, inviter.token);
    expect(invited.body.errors, JSON.stringify(invited.body.errors)).toBeUndefined();
    return { invitation: invited.body.data!.inviteMember.result, token: await tokenMailed(email, "invitation", mark) };
  }

  /** An existing user joins the organisation by accepting the invitation mailed to them. */
  async function join(org: { token: string }, colleague: { email: string; token: string }, role: string) {
    const { token } = await invite(org, colleague.email, role);
    const accepted = await call(ACCEPT, { token }, colleague.token);
    expect(accepted.body.errors, JSON.stringify(accepted.body.errors)).toBeUndefined();
    return accepted.body.data!.acceptInvitation.result;
  }

  it("an admin invites an existing user as viewer; once they accept they can read but not write", async () => {
    const org = await register();
    const colleague = await register();
    const { invitation, token } = await invite(org, colleague.email, "viewer");
    expect(invitation).toMatchObject({ email: colleague.email, role: "viewer", status: "pending" });
    const { rows: before } = await owner.query(
      "select 1 from iam.organisation_users where organisation_id = $1 and user_id = $2",
      [org.organisationId, colleague.userId],
    );
    expect(before).toEqual([]);
    const accepted = await call(ACCEPT, { token }, colleague.token);
    expect(accepted.body.data?.acceptInvitation.result).toEqual({
      userId: colleague.userId,
      role: "viewer",
      status: "active",
    });
    const { rows } = await owner.query("select slug from iam.organisations where id = $1", [org.organisationId]);
    const viewer = (await call(LOGIN, { email: colleague.email, password: PASSWORD, organisation: rows[0].slug })).body
      .data!.login;
    expect((await call("{ people { totalCount } }", {}, viewer.token)).body.errors).toBeUndefined();
    const write = await call(
      'mutation { createCompany(input: { company: { name: "Nope" } }) { company { id } } }',
      {},
      viewer.token,
    );
    expect(codeOf(write)).toBe("FORBIDDEN");
  });

  it("a new email is invited, and signing up through the link makes them a member", async () => {
    const org = await register();
    const email = uniqueEmail("newcomer");
    const { invitation, token } = await invite(org, email, "member");
    expect(invitation.status).toBe("pending");
    const joined = await call(REGISTER, { email, password: PASSWORD, invitation: token });
    expect(joined.body.errors, JSON.stringify(joined.body.errors)).toBeUndefined();
    const session = joined.body.data!.register.session;
    expect(session.organisationId).toBe(org.organisationId);
    const { rows } = await owner.query(
      "select status, role from iam.organisation_users where organisation_id = $1 and user_id = $2",
      [org.organisationId, session.userId],
    );
    expect(rows).toEqual([{ status: "active", role: "member" }]);
  });

  it("keeps exactly one owner: it cannot be removed or demoted, only handed over by consent", async () => {
    const org = await register();
    const colleague = await register();
    await join(org, colleague, "admin");
    expect(
      codeOf(
        await call(
          "mutation($u: UUID!) { removeMember(input: { userId: $u }) { result { userId } } }",
          { u: org.userId },
          org.token,
        ),
      ),
    ).toBe("OWNER_REQUIRED");
    expect(
      codeOf(
        await call(
          'mutation($u: UUID!) { changeMemberRole(input: { userId: $u, role: "member" }) { result { role } } }',
          { u: org.userId },
          org.token,
        ),
      ),
    ).toBe("OWNER_REQUIRED");
    expect(codeOf(await call(INVITE, { email: uniqueEmail("x"), role: "owner" }, org.token))).toBe("INVALID_INPUT");
    const offered = await call(
      "mutation($u: UUID!) { transferOwnership(input: { userId: $u }) { result { toUserId acceptedAt } } }",
      { u: colleague.userId },
      org.token,
    );
    expect(offered.body.data?.transferOwnership.result).toEqual({ toUserId: colleague.userId, acceptedAt: null });
    const { rows: slug } = await owner.query("select slug from iam.organisations where id = $1", [org.organisationId]);
    const colleagueHere = (
      await call(LOGIN, { email: colleague.email, password: PASSWORD, organisation: slug[0].slug })
    ).body.data!.login;
    const accepted = await call(
      "mutation { acceptOwnership(input: {}) { result { userId role } } }",
      {},
      colleagueHere.token,
    );
    expect(accepted.body.data?.acceptOwnership.result).toEqual({ userId: colleague.userId, role: "owner" });
    const { rows } = await owner.query(
      "select user_id, role from iam.organisation_users where organisation_id = $1 order by role",
      [org.organisationId],
    );
    expect(rows).toEqual([
      { user_id: org.userId, role: "admin" },
      { user_id: colleague.userId, role: "owner" },
    ]);
  });

  it("a removed member is refused on their next request", async () => {
    const org = await register();
    const colleague = await register();
    await join(org, colleague, "member");
    const { rows } = await owner.query("select slug from iam.organisations where id = $1", [org.organisationId]);
    const member = (await call(LOGIN, { email: colleague.email, password: PASSWORD, organisation: rows[0].slug })).body
      .data!.login;
    expect((await call("{ people { totalCount } }", {}, member.token)).body.errors).toBeUndefined();
    await call(
      "mutation($u: UUID!) { removeMember(input: { userId: $u }) { result { userId } } }",
      { u: colleague.userId },
      org.token,
    );
    expect(["SESSION_REVOKED", "NOT_A_MEMBER"]).toContain(
      codeOf(await call("{ people { totalCount } }", {}, member.token)),
    );
  });
});

describe("the role matrix", () => {
  /** The matrix as the README documents it: permission → roles holding it. */
  function readmeMatrix(): Map<string, Set<Role>> {
    const readme = readFileSync(`${projectRoot}/README.md`, "utf8");
    const section = readme.slice(readme.indexOf("### Roles and permissions"));
    const matrix = new Map<string, Set<Role>>();
    for (const line of section.split("\n")) {
      const match = /^\| `([a-z]+\.[a-z]+)` \|(.+)\|$/.exec(line.trim());
      if (!match) continue;
      const cells = match[2]!.split("|").map((c) => c.trim());
      matrix.set(match[1]!, new Set(ROLES.filter((_, i) => cells[i] === "✓")));
    }
    return matrix;
  }

  let org: TestOrganisation;
  beforeAll(async () => {
    org = await createOrganisation(owner, "matrix");
  });

  it("the README's table is the matrix the database holds", async () => {
    const { rows } = await owner.query(
      "select p.name, array_remove(array_agg(rp.role), null) as roles from reference.permissions p left join reference.role_permissions rp on rp.permission = p.name group by p.name",
    );
    const database = new Map(rows.map((r) => [r.name as string, new Set(r.roles as Role[])]));
    expect(database.size).toBeGreaterThan(0);
    expect(readmeMatrix()).toEqual(database);
  });

  const cells = (() => {
    const matrix = readmeMatrix();
    return [...matrix.entries()].flatMap(([permission, roles]) =>
      ROLES.map((role) => [permission, role, roles.has(role)] as const),
    );
  })();

  it.each(cells)("%s for a %s: allowed = %s", async (permission, role, allowed) => {
    const outcome = await asMember(owner, { organisationId: org.id, userId: org.users[role] }, async (client) => {
      try {
        await client.query("select app_hidden.require_permission($1)", [permission]);
        return "allowed";
      } catch (error) {
        return String((error as { code?: string }).code);
      }
    });
    expect(outcome).toBe(allowed ? "allowed" : "PT004");
  });

  it.each(ROLES)("a %s can read the organisation's data", async (role) => {
    const count = await asMember(
      owner,
      { organisationId: org.id, userId: org.users[role] },
      async (client) => (await client.query("select count(*)::int as n from crm.people")).rows[0].n as number,
    );
    expect(count).toBeGreaterThanOrEqual(0);
  });
});

describe("settings and suspension", () => {
  it("admins set the time zone and country from the shared reference data; bad values are refused", async () => {
    const org = await register();
    const UPDATE =
      "mutation($id: UUID!, $tz: String, $country: String) { updateOrganisation(input: { id: $id, patch: { timezone: $tz, countryCode: $country } }) { organisation { timezone countryCode } } }";
    const updated = await call(UPDATE, { id: org.organisationId, tz: "Europe/Paris", country: "FR" }, org.token);
    expect(updated.body.data?.updateOrganisation.organisation).toEqual({ timezone: "Europe/Paris", countryCode: "FR" });
    expect(codeOf(await call(UPDATE, { id: org.organisationId, tz: "Mars/Olympus" }, org.token))).toBe(
      "REFERENCE_MISSING",
    );
    expect(codeOf(await call(UPDATE, { id: org.organisationId, country: "XX" }, org.token))).toBe("REFERENCE_MISSING");
    const reference = await call(
      '{ timeZones(condition: { name: "Europe/Paris" }) { totalCount } countries(condition: { code: "FR" }) { nodes { name } } }',
    );
    expect(reference.body.data).toEqual({ timeZones: { totalCount: 1 }, countries: { nodes: [{ name: "France" }] } });
  });

  it("a suspended organisation's tokens and logins are refused with ORGANISATION_SUSPENDED", async () => {
    const org = await register();
    await owner.query("update iam.organisations set status = 'suspended' where id = $1", [org.organisationId]);
    expect(codeOf(await call("{ people { totalCount } }", {}, org.token))).toBe("ORGANISATION_SUSPENDED");
    expect(codeOf(await call(LOGIN, { email: org.email, password: PASSWORD }))).toBe("ORGANISATION_SUSPENDED");
  });
});

describe("the audit log", () => {
  it("records who changed what; admins read it, members cannot, and nobody can change it", async () => {
    const org = await register();
    const created = await call(
      'mutation { createPerson(input: { person: { firstName: "Ada", email: "ada@example.test" } }) { person { id } } }',
      {},
      org.token,
    );
    const personId = created.body.data!.createPerson.person.id as string;
    await call(
      "mutation($id: UUID!) { updatePerson(input: { id: $id, patch: { status: contacted } }) { person { id } } }",
      { id: personId },
      org.token,
    );
    await call(
      "mutation($id: UUID!) { deletePerson(input: { id: $id }) { person { id } } }",
      { id: personId },
      org.token,
    );
    const log = await call(
      "{ auditLogs(orderBy: OCCURRED_AT_ASC) { nodes { tableName userId rowId action changedColumns } } }",
      {},
      org.token,
    );
    const entries = log.body.data?.auditLogs.nodes as Array<{ tableName: string }>;
    expect(entries.map((e) => e.tableName)).toContain("iam.organisations");
    expect(entries.filter((e) => e.tableName === "crm.people").map(({ tableName: _, ...entry }) => entry)).toEqual([
      {
        userId: org.userId,
        rowId: personId,
        action: "insert",
        changedColumns: expect.arrayContaining(["email", "first_name", "organisation_id"]),
      },
      { userId: org.userId, rowId: personId, action: "update", changedColumns: ["status"] },
      { userId: org.userId, rowId: personId, action: "delete", changedColumns: [] },
    ]);
    // A member may not read it.
    const colleague = await register();
    await owner.query("insert into iam.organisation_users (organisation_id, user_id, role) values ($1, $2, 'member')", [
      org.organisationId,
      colleague.userId,
    ]);
    const colleagueToken = await sessionToken(
      owner,
      { userId: colleague.userId, organisationId: org.organisationId },
      300,
    );
    expect(codeOf(await call("{ auditLogs { totalCount } }", {}, colleagueToken))).toBe("FORBIDDEN");
    // Not even the database owner can change or delete an entry.
    await expect(
      owner.query("update iam.audit_log set action = 'insert' where organisation_id = $1", [org.organisationId]),
    ).rejects.toMatchObject({ code: "PT004" });
    await expect(
      owner.query("delete from iam.audit_log where organisation_id = $1", [org.organisationId]),
    ).rejects.toMatchObject({ code: "PT004" });
  });
});

describe("deleting an organisation (GDPR)", () => {
  const DELETE =
    "mutation($slug: String!) { deleteCurrentOrganisation(input: { confirmationSlug: $slug }) { result } }";

  it("needs the owner and the slug as confirmation", async () => {
    const org = await createOrganisation(owner, "gdpr-refuse");
    const adminToken = memberToken(org, "admin", 300);
    const ownerToken = memberToken(org, "owner", 300);
    expect(codeOf(await call(DELETE, { slug: org.slug }, adminToken))).toBe("FORBIDDEN");
    expect(codeOf(await call(DELETE, { slug: "wrong-slug" }, ownerToken))).toBe("CONFIRMATION_MISMATCH");
    const { rowCount } = await owner.query("select 1 from iam.organisations where id = $1", [org.id]);
    expect(rowCount).toBe(1);
  });

  it("removes every row of the organisation in every table, and nothing of any other organisation", async () => {
    const tables = await listTables(owner);
    const doomed = await createOrganisation(owner, "gdpr-doomed");
    const bystander = await createOrganisation(owner, "gdpr-bystander");
    await sampleRowsFor(owner, tables, { id: doomed.id, userId: doomed.users.owner });
    await sampleRowsFor(owner, tables, { id: bystander.id, userId: bystander.users.owner });
    // One user belongs to both: they must survive; the doomed organisation's own users must not.
    await owner.query("insert into iam.organisation_users (organisation_id, user_id, role) values ($1, $2, 'viewer')", [
      bystander.id,
      doomed.users.member,
    ]);
    const tenantTables = tables.filter((t) => t.isTenantTable).map((t) => t.name);
    const countsOutside = async () => {
      const counts: Record<string, number> = {};
      for (const table of tenantTables) {
        const { rows } = await owner.query(
          `select count(*)::int as n from ${quoteTable(table)} where organisation_id <> $1`,
          [doomed.id],
        );
        counts[table] = rows[0].n;
      }
      return counts;
    };
    const before = await countsOutside();
    const token = memberToken(doomed, "owner", 300);
    const response = await call(DELETE, { slug: doomed.slug }, token);
    expect(response.body.errors).toBeUndefined();
    const receipt = response.body.data!.deleteCurrentOrganisation.result;
    expect(receipt.organisationId).toBe(doomed.id);
    expect(receipt.rowsRemoved["crm.people"]).toBeGreaterThan(0);

    for (const table of tenantTables) {
      const { rows } = await owner.query(
        `select count(*)::int as n from ${quoteTable(table)} where organisation_id = $1`,
        [doomed.id],
      );
      expect(rows[0].n, table).toBe(0);
    }
    for (const table of ["app_private.sessions"]) {
      const { rows } = await owner.query(`select count(*)::int as n from ${table} where organisation_id = $1`, [
        doomed.id,
      ]);
      expect(rows[0].n).toBe(0);
    }
    // Nothing of any other organisation changed, in any table.
    expect(await countsOutside()).toEqual(before);
    const { rows: users } = await owner.query("select id from iam.users where id = any($1)", [
      Object.values(doomed.users),
    ]);
    expect(users).toEqual([{ id: doomed.users.member }]);
    const { rows: records } = await owner.query(
      "select deleted_by_user_id, rows_removed from app_private.organisation_deletions where organisation_id = $1",
      [doomed.id],
    );
    expect(records).toHaveLength(1);
    expect(records[0].deleted_by_user_id).toBe(doomed.users.owner);
    expect(records[0].rows_removed["iam.users"]).toBe(3);
  });
});
