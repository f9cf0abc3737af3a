// Test helpers for the database: pools per role, fresh organisations with a user per role,
// and running SQL as a given member (the way the server does: visitor role + tenant settings).
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { VISITOR_ROLE } from "../../src/db/roles.ts";

export const testDatabase = () => inject("testDatabase");

export type Role = "owner" | "admin" | "member" | "viewer";
export const ROLES: Role[] = ["owner", "admin", "member", "viewer"];

export interface TestOrganisation {
  id: string;
  slug: string;
  /** A user id per role, each an active member of this organisation. */
  users: Record<Role, string>;
  emails: Record<Role, string>;
  /** An open session per role (a day long): tokens name one (test/helpers/tokens.ts). */
  sessions: Record<Role, string>;
}

export function ownerPool(): pg.Pool {
  return new pg.Pool({ connectionString: testDatabase().urls.ownerUrl, max: 4 });
}

export function authenticatorPool(): pg.Pool {
  return new pg.Pool({ connectionString: testDatabase().urls.authenticatorUrl, max: 4 });
}

/** A fresh organisation (random id and slug) with one user per role. Runs as the owner. */
export async function createOrganisation(owner: pg.Pool, label = "org"): Promise<TestOrganisation> {
  const id = randomUUID();
  const slug = `${label}-${randomBytes(5).toString("hex")}`;
  await owner.query("insert into iam.organisations (id, name, slug) values ($1, $2, $3)", [id, `Test ${slug}`, slug]);
  const users = {} as Record<Role, string>;
  const emails = {} as Record<Role, string>;
  const sessions = {} as Record<Role, string>;
  for (const role of ROLES) {
    const userId = randomUUID();
    const email = `${role}.${slug}@example.test`;
    // Verified, like the accounts the operator commands create: they may sign in once given a password.
    await owner.query("insert into iam.users (id, email, first_name, email_verified_at) values ($1, $2, $3, now())", [
      userId,
      email,
      role,
    ]);
    await owner.query("insert into iam.organisation_users (organisation_id, user_id, role) values ($1, $2, $3)", [
      id,
      userId,
      role,
    ]);
    const { rows } = await owner.query<{ session_id: string }>(
      "select (app_hidden.start_session($1, $2, 86400)).session_id",
      [userId, id],
    );
    users[role] = userId;
    emails[role] = email;
    sessions[role] = rows[0]!.session_id;
  }
  return { id, slug, users, emails, sessions };
}

/**
 * Runs `work` in a transaction as the visitor role with the tenant settings of this member,
 * exactly as the server does for a request; the transaction is rolled back afterwards.
 */
export async function asMember<T>(
  pool: pg.Pool,
  member: { organisationId: string | null; userId: string | null },
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    await client.query(
      "select set_config('role', $1, true), set_config('app.organisation_id', $2, true), set_config('app.user_id', $3, true)",
      [VISITOR_ROLE, member.organisationId ?? "", member.userId ?? ""],
    );
    return await work(client);
  } finally {
    await client.query("rollback").catch(() => {});
    client.release();
  }
}

/** The SQLSTATE of the error `promise` rejects with (fails the test if it resolves). */
export async function sqlstateOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return String((error as { code?: string }).code);
  }
  throw new Error("expected the statement to fail, but it succeeded");
}

export interface MemberSession {
  /** Runs one statement in its own committed transaction, as this member (like one request). */
  query<R extends pg.QueryResultRow = Record<string, any>>( // eslint-disable-line @typescript-eslint/no-explicit-any -- row shapes vary per statement
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export function memberSession(pool: pg.Pool, member: { organisationId: string; userId: string }): MemberSession {
  return {
    async query(text, values) {
      const client = await pool.connect();
      try {
        await client.query("begin");
        await client.query(
          "select set_config('role', $1, true), set_config('app.organisation_id', $2, true), set_config('app.user_id', $3, true)",
          [VISITOR_ROLE, member.organisationId, member.userId],
        );
        const result = await client.query(text, values);
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
  };
}

/** Companies, people and positions for an organisation; returns the position ids. Runs as the owner. */
export async function createPositions(owner: pg.Pool, organisationId: string, count: number): Promise<string[]> {
  const { rows } = await owner.query<{ id: string }>(
    `with company as (
       insert into crm.companies (organisation_id, name) values ($1, 'Prospect company') returning id
     ), people as (
       insert into crm.people (organisation_id, email)
       select $1, format('prospect-%s-%s@example.test', n, md5(random()::text)) from generate_series(1, $2) n
       returning id
     )
     insert into crm.positions (organisation_id, person_id, company_id, email)
     select $1, people.id, company.id, format('work-%s@example.test', md5(random()::text)) from people, company
     returning id`,
    [organisationId, count],
  );
  return rows.map((r) => r.id);
}
