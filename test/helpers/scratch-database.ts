// A database of a test's own, with its own owner and authenticator roles, migrated from zero the
// way a deployment's migrate job does it: for tests that pool, restart, back up or restore a
// whole database and must not disturb the shared test database.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { buildUrl, type DatabaseUrls } from "../../src/db/connection-urls.ts";
import { restrictExtensionFunctions } from "../../src/db/extension-rights.ts";
import { runCommittedMigrations } from "../../src/db/migrations.ts";
import { allowAuthenticatorToReadMigrationHistory, prepareRolesAndDatabase } from "../../src/db/prepare-database.ts";
import { createLogger } from "../../src/logger.ts";

export interface ScratchDatabase {
  name: string;
  urls: DatabaseUrls & { rootUrl: string };
  ownerRole: string;
  authenticatorRole: string;
  password: string;
  /** Drops the database (disconnecting anyone still on it) and both roles. */
  drop(): Promise<void>;
}

/** `serverRootUrl`: a superuser URL of the server to create it on (its database is the maintenance one). */
export async function createScratchDatabase(
  serverRootUrl: string,
  label: string,
  options: { migrate?: boolean } = {},
): Promise<ScratchDatabase> {
  const suffix = randomBytes(4).toString("hex");
  const name = `pf_${label}_${suffix}`;
  const ownerRole = `pf_${label}_${suffix}_owner`;
  const authenticatorRole = `pf_${label}_${suffix}_auth`;
  const password = `scratch-${randomBytes(6).toString("hex")}`;
  const server = new URL(serverRootUrl);
  const roleUrl = (user: string) =>
    buildUrl({ user, password, host: server.hostname, port: Number(server.port || 5432), database: name });
  const urls = {
    rootUrl: serverRootUrl,
    ownerUrl: roleUrl(ownerRole),
    authenticatorUrl: roleUrl(authenticatorRole),
    shadowUrl: undefined,
  };
  const logger = createLogger("silent");
  await prepareRolesAndDatabase(urls, logger);
  if (options.migrate ?? true) {
    await runCommittedMigrations(urls, logger);
    await allowAuthenticatorToReadMigrationHistory(urls);
    await restrictExtensionFunctions(urls, logger);
  }
  return {
    name,
    urls,
    ownerRole,
    authenticatorRole,
    password,
    async drop() {
      const root = new pg.Client({ connectionString: serverRootUrl });
      await root.connect();
      try {
        const { rows } = await root.query<{ datname: string }>(
          "select datname from pg_database where datname like $1",
          [`${name}%`],
        );
        for (const { datname } of rows)
          await root.query(`drop database if exists ${root.escapeIdentifier(datname)} with (force)`);
        await root.query(
          `drop role if exists ${root.escapeIdentifier(ownerRole)}, ${root.escapeIdentifier(authenticatorRole)}`,
        );
      } finally {
        await root.end();
      }
    },
  };
}
