// A database of a test file's own, migrated like the shared one (committed migrations, then the
// current folder): for tests that run a mailer, which would otherwise send other files' queued mail.
import pg from "pg";
import { runCurrentMigrationOnce } from "../../src/db/migrations.ts";
import { createLogger } from "../../src/logger.ts";
import { testDatabase } from "./database.ts";
import { createScratchDatabase, type ScratchDatabase } from "./scratch-database.ts";

export interface OwnDatabase {
  database: ScratchDatabase;
  owner: pg.Pool;
  drop(): Promise<void>;
}

export async function createOwnDatabase(label: string): Promise<OwnDatabase> {
  const database = await createScratchDatabase(testDatabase().serverRootUrl, label);
  await runCurrentMigrationOnce(database.urls, createLogger("silent"));
  const owner = new pg.Pool({ connectionString: database.urls.ownerUrl, max: 4 });
  // An idle connection cut when the database is dropped must not become an uncaught error.
  owner.on("error", () => {});
  return {
    database,
    owner,
    async drop() {
      await owner.end();
      await database.drop();
    },
  };
}
