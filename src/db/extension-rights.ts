// The extensions' functions (schema `extensions`, owned by the bootstrap superuser) executable only
// by the owner and, for the few the visitor's queries evaluate, the visitor: see
// src/db/sql/extension-rights.sql. Needs the superuser (ROOT_DATABASE_URL); run after migrating.
import { readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { projectRoot } from "../config.ts";
import type { Logger } from "../logger.ts";
import { databaseNameOf, withDatabase, type DatabaseUrls } from "./connection-urls.ts";
import { ANONYMOUS_ROLE, VISITOR_ROLE } from "./roles.ts";

export async function restrictExtensionFunctions(
  urls: Pick<DatabaseUrls, "ownerUrl"> & { rootUrl: string },
  logger: Logger,
): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(urls.rootUrl, databaseNameOf(urls.ownerUrl)) });
  await client.connect();
  try {
    const sql = readFileSync(path.join(projectRoot, "src/db/sql/extension-rights.sql"), "utf8");
    await client.query(
      sql.replaceAll(":DATABASE_VISITOR", VISITOR_ROLE).replaceAll(":DATABASE_ANONYMOUS", ANONYMOUS_ROLE),
    );
    logger.debug("extension functions restricted to the owner and the visitor's allow-list");
  } finally {
    await client.end();
  }
}
