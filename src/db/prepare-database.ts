// Creates, when missing, the roles and the database the server needs, as the superuser
// (ROOT_DATABASE_URL): the owner and authenticator named by DATABASE_URL and AUTH_DATABASE_URL,
// and the project's fixed visitor and anonymous roles. Safe to run at every start.
import pg from "pg";
import type { Logger } from "../logger.ts";
import { databaseNameOf, passwordOf, userNameOf, type DatabaseUrls } from "./connection-urls.ts";
import { ANONYMOUS_ROLE, VISITOR_ROLE } from "./roles.ts";

const DUPLICATE_OBJECT = "42710";
const DUPLICATE_DATABASE = "42P04";
const UNIQUE_VIOLATION = "23505";

/** Runs one statement, treating "it already exists" (also from a concurrent run) as success. */
async function createIfMissing(client: pg.Client, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === DUPLICATE_OBJECT || code === DUPLICATE_DATABASE || code === UNIQUE_VIOLATION) return;
    throw error;
  }
}

async function roleExists(client: pg.Client, role: string): Promise<boolean> {
  const { rowCount } = await client.query("select 1 from pg_roles where rolname = $1", [role]);
  return rowCount === 1;
}

export async function prepareRolesAndDatabase(urls: DatabaseUrls & { rootUrl: string }, logger: Logger): Promise<void> {
  const owner = userNameOf(urls.ownerUrl);
  const authenticator = userNameOf(urls.authenticatorUrl);
  const database = databaseNameOf(urls.ownerUrl);
  const client = new pg.Client({ connectionString: urls.rootUrl });
  await client.connect();
  try {
    const id = (name: string) => client.escapeIdentifier(name);
    const literal = (value: string) => client.escapeLiteral(value);

    if (!(await roleExists(client, owner))) {
      logger.info({ role: owner }, "creating the database owner role");
      await createIfMissing(
        client,
        `create role ${id(owner)} with login password ${literal(passwordOf(urls.ownerUrl))}`,
      );
    }
    if (!(await roleExists(client, authenticator))) {
      logger.info({ role: authenticator }, "creating the authenticator role");
      await createIfMissing(
        client,
        `create role ${id(authenticator)} with login noinherit password ${literal(passwordOf(urls.authenticatorUrl))}`,
      );
    }
    for (const role of [VISITOR_ROLE, ANONYMOUS_ROLE]) {
      if (!(await roleExists(client, role))) await createIfMissing(client, `create role ${id(role)} nologin`);
    }
    // The authenticator may switch to the visitor or anonymous role per request; the owner may
    // too, so that RLS test scripts run as the owner can act as a member of an organisation.
    await client.query(`grant ${id(VISITOR_ROLE)}, ${id(ANONYMOUS_ROLE)} to ${id(authenticator)}, ${id(owner)}`);

    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (rowCount === 0) {
      logger.info({ database }, "creating the database");
      await createIfMissing(client, `create database ${id(database)} owner ${id(owner)}`);
    }
    await client.query(`revoke all on database ${id(database)} from public`);
    await client.query(`grant connect on database ${id(database)} to ${id(owner)}, ${id(authenticator)}`);
  } finally {
    await client.end();
  }
}

/**
 * Lets the authenticator read graphile-migrate's history (file numbers and hashes, nothing else),
 * so /readyz can tell whether every committed migration is applied without the owner's password.
 * Runs as the owner after migrating: graphile-migrate creates that schema as the owner.
 */
export async function allowAuthenticatorToReadMigrationHistory(
  urls: Pick<DatabaseUrls, "ownerUrl" | "authenticatorUrl">,
): Promise<void> {
  const client = new pg.Client({ connectionString: urls.ownerUrl });
  await client.connect();
  try {
    const authenticator = client.escapeIdentifier(userNameOf(urls.authenticatorUrl));
    await client.query(`grant usage on schema graphile_migrate to ${authenticator}`);
    await client.query(`grant select on graphile_migrate.migrations to ${authenticator}`);
  } finally {
    await client.end();
  }
}
