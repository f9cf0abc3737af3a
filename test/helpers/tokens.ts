// Bearer tokens for tests, signed the way login signs them: every token names an open session
// (the server refuses tokens without `sid`).
import type pg from "pg";
import { signToken } from "../../src/auth/jwt.ts";
import type { Role, TestOrganisation } from "./database.ts";
import { TEST_JWT_SECRET } from "./http-server.ts";

/** A token for the member of `org` with that role, on the session createOrganisation opened. */
export function memberToken(org: TestOrganisation, role: Role, lifetimeSeconds = 600): string {
  return signToken(
    { userId: org.users[role], organisationId: org.id, sessionId: org.sessions[role] },
    TEST_JWT_SECRET,
    lifetimeSeconds,
  );
}

/** A token for any user and organisation (member or not), on a session opened for it now. */
export async function sessionToken(
  owner: pg.Pool,
  member: { userId: string; organisationId: string },
  lifetimeSeconds = 600,
): Promise<string> {
  const { rows } = await owner.query<{ session_id: string }>(
    "select (app_hidden.start_session($1, $2, $3)).session_id",
    [member.userId, member.organisationId, lifetimeSeconds],
  );
  return signToken({ ...member, sessionId: rows[0]!.session_id }, TEST_JWT_SECRET, lifetimeSeconds);
}
