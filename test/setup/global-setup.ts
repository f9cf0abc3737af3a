// Starts a throwaway embedded PostgreSQL (or uses TEST_ROOT_DATABASE_URL), creates a uniquely
// named database with the project's roles, applies the committed migrations and current.sql,
// and removes it all afterwards.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { buildUrl } from "../../src/db/connection-urls.ts";
import {
  startEmbeddedPostgres,
  stopClusterImmediately,
  type EmbeddedPostgres,
} from "../../src/db/embedded-postgres.ts";
import { runCommittedMigrations, runCurrentMigrationOnce } from "../../src/db/migrations.ts";
import { restrictExtensionFunctions } from "../../src/db/extension-rights.ts";
import { prepareRolesAndDatabase } from "../../src/db/prepare-database.ts";
import { createLogger } from "../../src/logger.ts";
import type { TestDatabase } from "./test-database.ts";

const SCRATCH_PREFIX = "prospectflow-test-";
const OWNER = "prospectflow_test_owner";

/** Clusters of test runs that died without their teardown (killed, timed out) are stopped and removed. */
async function removeStaleScratchClusters(): Promise<void> {
  for (const entry of await fs.readdir(os.tmpdir())) {
    if (!entry.startsWith(SCRATCH_PREFIX)) continue;
    const folder = path.join(os.tmpdir(), entry);
    const pid = Number(await fs.readFile(path.join(folder, "owner.pid"), "utf8").catch(() => "NaN"));
    let alive: boolean;
    if (Number.isInteger(pid)) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        alive = false;
      }
    } else {
      // A folder without owner.pid is being set up right now, or predates this cleanup: only old ones go.
      const { mtimeMs } = await fs.stat(folder);
      alive = Date.now() - mtimeMs < 60 * 60 * 1000;
    }
    if (alive) continue;
    await stopClusterImmediately(path.join(folder, "postgres")).catch(() => {});
    await fs.rm(folder, { recursive: true, force: true });
  }
}
const AUTHENTICATOR = "prospectflow_test_authenticator";
const PASSWORD = "prospectflow-test";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? "warn");
  let embedded: EmbeddedPostgres | undefined;
  let scratchFolder: string | undefined;
  let serverRootUrl = process.env.TEST_ROOT_DATABASE_URL;
  if (!serverRootUrl) {
    await removeStaleScratchClusters();
    // The cluster runs as the postgres user when we are root: its folder must be reachable.
    scratchFolder = await fs.mkdtemp(path.join(os.tmpdir(), SCRATCH_PREFIX));
    await fs.chmod(scratchFolder, 0o755);
    await fs.writeFile(path.join(scratchFolder, "owner.pid"), String(process.pid));
    embedded = await startEmbeddedPostgres({
      dataDir: scratchFolder,
      clusterDirectory: path.join(scratchFolder, "postgres"),
      logger,
    });
    serverRootUrl = embedded.urls.rootUrl!;
  }
  const server = new URL(serverRootUrl);
  const databaseName = `prospectflow_test_${randomBytes(4).toString("hex")}`;
  const roleUrl = (user: string, database: string) =>
    buildUrl({ user, password: PASSWORD, host: server.hostname, port: Number(server.port || 5432), database });
  const testDatabase: TestDatabase = {
    serverRootUrl,
    ownerRole: OWNER,
    authenticatorRole: AUTHENTICATOR,
    urls: {
      rootUrl: serverRootUrl,
      ownerUrl: roleUrl(OWNER, databaseName),
      authenticatorUrl: roleUrl(AUTHENTICATOR, databaseName),
      shadowUrl: roleUrl(OWNER, `${databaseName}_shadow`),
    },
  };
  await prepareRolesAndDatabase(testDatabase.urls, logger);
  await runCommittedMigrations(testDatabase.urls, logger);
  await runCurrentMigrationOnce(testDatabase.urls, logger);
  await restrictExtensionFunctions(testDatabase.urls, logger);
  project.provide("testDatabase", testDatabase);

  return async () => {
    const root = new pg.Client({ connectionString: serverRootUrl });
    await root.connect();
    try {
      const { rows } = await root.query<{ datname: string }>("select datname from pg_database where datname like $1", [
        `${databaseName}%`,
      ]);
      for (const { datname } of rows) {
        await root.query(`drop database if exists ${root.escapeIdentifier(datname)} with (force)`);
      }
    } finally {
      await root.end();
    }
    await embedded?.stop();
    if (scratchFolder) await fs.rm(scratchFolder, { recursive: true, force: true });
  };
}
