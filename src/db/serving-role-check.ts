// Refuses to serve requests through a role that would bypass row-level security.
import pg from "pg";
import { userNameOf } from "./connection-urls.ts";

export class UnsafeServingRoleError extends Error {
  override name = "UnsafeServingRoleError";
}

/** The authenticator must not be a superuser, have BYPASSRLS, or own the database. */
export async function assertServingRoleIsSafe(authenticatorUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: authenticatorUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ rolsuper: boolean; rolbypassrls: boolean; owns_database: boolean }>(
      `select r.rolsuper, r.rolbypassrls,
              exists (select 1 from pg_database d where d.datname = current_database() and d.datdba = r.oid) as owns_database
         from pg_roles r where r.rolname = current_user`,
    );
    const role = rows[0];
    const name = userNameOf(authenticatorUrl);
    if (!role) throw new UnsafeServingRoleError(`Role ${name} not found.`);
    if (role.rolsuper || role.rolbypassrls || role.owns_database) {
      throw new UnsafeServingRoleError(
        `AUTH_DATABASE_URL logs in as ${name}, which ${
          role.rolsuper ? "is a superuser" : role.rolbypassrls ? "has BYPASSRLS" : "owns the database"
        }: row-level security would not apply. Use a NOINHERIT role with no rights of its own.`,
      );
    }
  } finally {
    await client.end();
  }
}
