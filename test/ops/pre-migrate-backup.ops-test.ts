// The migrate job (node src/cli/migrate-deploy.ts) dumps the database before it applies pending
// migrations to a database that has some: the backup the rollback procedure falls back on
// (docs/OPERATIONS.md). Run against the server whose pg_dump matches it (npm run test:ops).
// The pending migration is made by rolling the latest one back (npm run migrate -- rollback).
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { parse as parseYaml } from "yaml";
import { afterAll, afterEach, beforeEach, expect, it } from "vitest";
import { projectRoot } from "../../src/config.ts";
import { rollbackLatestMigration } from "../../src/db/rollback.ts";
import { createLogger } from "../../src/logger.ts";
import { readManifest } from "../../src/ops/backup-files.ts";
import { locateTools, runTool } from "../../src/ops/postgres-tools.ts";
import { runCli } from "../helpers/cli.ts";
import { testDatabase } from "../helpers/database.ts";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.ts";

const logger = createLogger("silent");
const tools = locateTools(undefined);
let scratch: ScratchDatabase;
let backupDirectory: string;
const folders: string[] = [];

const environment = (extra: Record<string, string> = {}) => ({
  ROOT_DATABASE_URL: scratch.urls.rootUrl,
  DATABASE_URL: scratch.urls.ownerUrl,
  AUTH_DATABASE_URL: scratch.urls.authenticatorUrl,
  BACKUP_DIR: backupDirectory,
  ...extra,
});
const migrateDeploy = (extra?: Record<string, string>) => runCli("src/cli/migrate-deploy.ts", [], environment(extra));

async function history(): Promise<string[]> {
  const client = new pg.Client({ connectionString: scratch.urls.ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ filename: string }>(
      "select filename from graphile_migrate.migrations order by filename",
    );
    return rows.map((row) => row.filename);
  } finally {
    await client.end();
  }
}

const dumps = async () => (await fs.readdir(backupDirectory)).filter((name) => name.endsWith(".dump"));

beforeEach(async () => {
  scratch = await createScratchDatabase(testDatabase().serverRootUrl, "premigrate");
  backupDirectory = await fs.mkdtemp(path.join(os.tmpdir(), "prospectflow-premigrate-"));
  folders.push(backupDirectory);
});

afterEach(async () => {
  // graphile-migrate keeps its pool 200 ms after a command; dropping the database under it would crash the run.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await scratch.drop();
});

afterAll(async () => {
  for (const folder of folders) await fs.rm(folder, { recursive: true, force: true });
});

it("a pending migration on a migrated database: dumped first (verified, manifest, the state before), then migrated", async () => {
  const complete = await history();
  const reverted = await rollbackLatestMigration(scratch.urls, logger);
  expect(await history()).toEqual(complete.slice(0, -1));

  const result = await migrateDeploy();
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(await history()).toEqual(complete);
  const files = await dumps();
  expect(files).toHaveLength(1);
  expect(files[0]).toMatch(new RegExp(`^${scratch.name}-pre-migrate-\\d{8}T\\d{9}Z\\.dump$`));
  const file = path.join(backupDirectory, files[0]!);
  const manifest = await readManifest(file);
  expect(manifest).toMatchObject({ kind: "pre-migrate", database: scratch.name });
  expect(Object.keys(manifest!.rowCounts)).toContain("iam.organisations");
  // The dump holds the history before the migration: the reverted one is not in it.
  const { stdout: restoredHistory } = await runTool(tools.pgRestore, [
    "--data-only",
    "--schema=graphile_migrate",
    "--table=migrations",
    "--file=-",
    file,
  ]);
  expect(restoredHistory).toContain(complete.at(-2)!);
  expect(restoredHistory).not.toContain(reverted.hash);
});

it("a dump that cannot be taken stops the migrate job before it migrates; BACKUP_BEFORE_MIGRATE=off migrates without one", async () => {
  const complete = await history();
  await rollbackLatestMigration(scratch.urls, logger);

  const refused = await migrateDeploy({ PG_BIN_DIR: path.join(backupDirectory, "no-such-folder") });
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/The dump before migrating \(.+\) failed, so nothing was migrated: .*pg_dump/);
  expect(refused.stderr).toContain("BACKUP_BEFORE_MIGRATE=off");
  expect(await history()).toEqual(complete.slice(0, -1));

  const migrated = await migrateDeploy({
    PG_BIN_DIR: path.join(backupDirectory, "no-such-folder"),
    BACKUP_BEFORE_MIGRATE: "off",
  });
  expect(migrated.code).toBe(0);
  expect(await history()).toEqual(complete);
  expect(await dumps()).toEqual([]);
});

it("no dump when nothing is pending, nor for a database that has no migration yet (nothing to save)", async () => {
  const upToDate = await migrateDeploy();
  expect(upToDate.code).toBe(0);
  expect(await dumps()).toEqual([]);

  const fresh = await createScratchDatabase(testDatabase().serverRootUrl, "premigratefresh", { migrate: false });
  try {
    const first = await runCli("src/cli/migrate-deploy.ts", [], {
      ROOT_DATABASE_URL: fresh.urls.rootUrl,
      DATABASE_URL: fresh.urls.ownerUrl,
      AUTH_DATABASE_URL: fresh.urls.authenticatorUrl,
      BACKUP_DIR: backupDirectory,
    });
    expect(first.code).toBe(0);
    expect(await dumps()).toEqual([]);
  } finally {
    await new Promise((resolve) => setTimeout(resolve, 500));
    await fresh.drop();
  }
});

it("compose's migrate job has pg_dump (the backup image), the backups volume, and the dump on by default", async () => {
  const compose = parseYaml(await fs.readFile(path.join(projectRoot, "docker-compose.yaml"), "utf8")) as {
    services: Record<string, { build?: { target?: string }; volumes?: string[]; environment?: Record<string, string> }>;
  };
  const migrate = compose.services.migrate!;
  expect(migrate.build?.target).toBe("backup");
  expect(migrate.volumes).toContain("backups:/backups");
  expect(migrate.environment).toMatchObject({ BACKUP_DIR: "/backups" });
  expect(migrate.environment?.BACKUP_BEFORE_MIGRATE).toMatch(/^\$\{BACKUP_BEFORE_MIGRATE:-on\}$/);
});
