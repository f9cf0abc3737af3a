// What a benchmark run prepares in a seeded bench database: members' sessions and signed tokens,
// and the bench-only BYPASSRLS role of variant b.
import { randomBytes } from "node:crypto";
import { signToken } from "../src/auth/jwt.ts";
import { buildUrl, databaseNameOf } from "../src/db/connection-urls.ts";
import { VISITOR_ROLE } from "../src/db/roles.ts";
import type { Member, MemberKind } from "./scenarios.ts";
import { BYPASS_ROLE } from "./variants/bypass-role.ts";
import { withClient } from "./bench-database.ts";

/** The seeded organisations the scenarios act in (bench/seed/seed.sql): the first large one and the probe. */
export const MEMBER_ORGANISATIONS: Record<MemberKind, string> = {
  large: "bench-org-1",
  probe: "bench-small-probe",
};

/** How long the bench's tokens live; every server the bench starts accepts that lifetime. */
export const TOKEN_LIFETIME_SECONDS = 6 * 3600;

/** A member (role `member`: reads and writes) of each organisation, with a session and a token. */
export async function prepareMembers(ownerUrl: string, jwtSecret: string): Promise<Record<MemberKind, Member>> {
  return withClient(ownerUrl, async (client) => {
    const members = {} as Record<MemberKind, Member>;
    for (const [kind, slug] of Object.entries(MEMBER_ORGANISATIONS) as Array<[MemberKind, string]>) {
      const { rows } = await client.query<{ organisation_id: string; user_id: string; session_id: string }>(
        `select o.id as organisation_id, m.user_id, (app_hidden.start_session(m.user_id, o.id, $2)).session_id
           from iam.organisations o
           join iam.organisation_users m on m.organisation_id = o.id and m.role = 'member' and m.status = 'active'
          where o.slug = $1`,
        [slug, TOKEN_LIFETIME_SECONDS],
      );
      const row = rows[0];
      if (!row)
        throw new Error(
          `The bench database has no member of organisation ${slug}: reseed it (npm run bench:seed -- --reseed).`,
        );
      members[kind] = {
        organisationId: row.organisation_id,
        userId: row.user_id,
        sessionId: row.session_id,
        token: signToken(
          { userId: row.user_id, organisationId: row.organisation_id, sessionId: row.session_id },
          jwtSecret,
          TOKEN_LIFETIME_SECONDS,
        ),
      };
    }
    return members;
  });
}

/**
 * Variant b's login role: BYPASSRLS, inheriting the visitor's grants, allowed to connect to the
 * bench databases only (the project's databases revoke CONNECT from public). Its password is new
 * on every run. Returns its URL for the given bench database.
 */
export async function prepareBypassRole(rootUrl: string, benchOwnerUrl: string): Promise<string> {
  const database = databaseNameOf(benchOwnerUrl);
  const password = randomBytes(24).toString("base64url");
  await withClient(rootUrl, async (client) => {
    const role = client.escapeIdentifier(BYPASS_ROLE);
    const { rowCount } = await client.query("select 1 from pg_roles where rolname = $1", [BYPASS_ROLE]);
    if (rowCount === 0) {
      await client.query(`create role ${role} login bypassrls inherit`).catch((error: { code?: string }) => {
        if (error.code !== "42710") throw error;
      });
    }
    await client.query(`alter role ${role} with login bypassrls inherit password ${client.escapeLiteral(password)}`);
    await client.query(`grant ${client.escapeIdentifier(VISITOR_ROLE)} to ${role}`);
    await client.query(`grant connect on database ${client.escapeIdentifier(database)} to ${role}`);
    await client.query(
      `comment on role ${role} is ${client.escapeLiteral(
        "Benchmark only (bench/variants/rls-bypass-preset.ts): measures what RLS costs. Connects to prospectflow_bench_* only.",
      )}`,
    );
  });
  const url = new URL(benchOwnerUrl);
  return buildUrl({ user: BYPASS_ROLE, password, host: url.hostname, port: Number(url.port || 5432), database });
}

/** Removes the people the create-person scenario added, so a reused data set stays the same size. */
export async function deleteCreatedPeople(ownerUrl: string, emailDomain: string): Promise<number> {
  return withClient(ownerUrl, async (client) => {
    // The audit log keeps a line per deleted person, as it does for every delete.
    const { rowCount } = await client.query("delete from crm.people where email like $1", [`%@${emailDomain}`]);
    return rowCount ?? 0;
  });
}

export async function countOpenEvents(ownerUrl: string): Promise<number> {
  return withClient(ownerUrl, async (client) => {
    const { rows } = await client.query<{ count: string }>("select count(*) from tracking.open_events");
    return Number(rows[0]!.count);
  });
}
