// Brings the database to a servable state: embedded or external server, roles and database,
// committed migrations. Used by the server, the dev loop and the CLI tools.
import { requireOwnerUrl, type Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { DatabaseUrls } from "./connection-urls.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { restrictExtensionFunctions } from "./extension-rights.ts";
import { runCommittedMigrations } from "./migrations.ts";
import { prepareRolesAndDatabase } from "./prepare-database.ts";

export interface Database {
  urls: DatabaseUrls;
  /** Stops the embedded PostgreSQL if this process started it; otherwise does nothing. */
  stop(): Promise<void>;
}

/** The server's URLs: an embedded PostgreSQL (started or reused), or the configured one. */
export async function connectDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.database.kind === "external") {
    const { rootUrl, authenticatorUrl, shadowUrl } = config.database;
    const ownerUrl = requireOwnerUrl(config.database);
    return { urls: { rootUrl, ownerUrl, authenticatorUrl, shadowUrl }, stop: async () => {} };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, logger });
  return { urls: embedded.urls, stop: () => embedded.stop() };
}

/**
 * Roles and database (when a superuser URL is known), then the committed migrations, then (with the
 * superuser again) the extensions' function rights.
 */
export async function prepareDatabase(urls: DatabaseUrls, logger: Logger): Promise<void> {
  if (urls.rootUrl !== undefined) {
    await prepareRolesAndDatabase({ ...urls, rootUrl: urls.rootUrl }, logger);
  }
  await runCommittedMigrations(urls, logger);
  if (urls.rootUrl !== undefined) {
    await restrictExtensionFunctions({ ...urls, rootUrl: urls.rootUrl }, logger);
  }
}
