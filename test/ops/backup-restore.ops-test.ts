// Backups and restores (npm run db:backup / db:restore) against the server whose client tools
// match it (PostgreSQL 15 on 127.0.0.1:5432 in `npm run test:ops`): a full round trip with
// several organisations (row counts and checksums per table equal, RLS still isolating, the
// server ready on the restored database), the safety dump, schema and data modes, pruning,
// and clear refusals: not a dump, damaged, data-only, checksum mismatch, database in use,
// a server newer than pg_dump.
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withDatabase } from "../../src/db/connection-urls.ts";
import { dumpFileName, parseTableOfContents, readManifest } from "../../src/ops/backup-files.ts";
import { locateTools, runTool, toolMajorVersion } from "../../src/ops/postgres-tools.ts";
import { listTables, quoteTable } from "../helpers/catalog.ts";
import { runCli } from "../helpers/cli.ts";
import { asMember, createOrganisation, testDatabase, type TestOrganisation } from "../helpers/database.ts";
import { startRestartablePostgres } from "../helpers/restartable-postgres.ts";
import { sampleRowsFor } from "../helpers/row-factory.ts";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.ts";
import { getJson, startServerFor } from "../helpers/server-for-database.ts";

const tools = locateTools(undefined);
let scratch: ScratchDatabase;
let backupDirectory: string;
let organisations: TestOrganisation[];

const environment = () => ({
  ROOT_DATABASE_URL: scratch.urls.rootUrl,
  DATABASE_URL: scratch.urls.ownerUrl,
  AUTH_DATABASE_URL: scratch.urls.authenticatorUrl,
  BACKUP_DIR: backupDirectory,
});
const backup = (...args: string[]) => runCli("src/cli/backup.ts", args, environment());
const restore = (...args: string[]) => runCli("src/cli/restore.ts", args, environment());

function writtenFile(stdout: string): string {
  const file = /Backup written: (\S+)/.exec(stdout)?.[1];
  if (file === undefined) throw new Error(`no "Backup written" line in:\n${stdout}`);
  return file;
}

/** Superuser view of the scratch database: every table's row count and content checksum. */
async function fingerprint(): Promise<Record<string, string>> {
  const root = new pg.Client({ connectionString: withDatabase(scratch.urls.rootUrl, scratch.name) });
  await root.connect();
  try {
    const { rows: tables } = await root.query<{ name: string }>(
      `select format('%s.%s', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
        order by 1`,
    );
    const result: Record<string, string> = {};
    for (const { name } of tables) {
      const { rows } = await root.query<{ count: string; checksum: string }>(
        `select count(*) as count, coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as checksum from ${quoteTable(name)} t`,
      );
      result[name] = `${rows[0]!.count}:${rows[0]!.checksum}`;
    }
    return result;
  } finally {
    await root.end();
  }
}

async function loadOrganisations(count: number): Promise<TestOrganisation[]> {
  const owner = new pg.Pool({ connectionString: scratch.urls.ownerUrl, max: 2 });
  try {
    const tables = await listTables(owner);
    const created: TestOrganisation[] = [];
    for (let i = 0; i < count; i++) {
      const organisation = await createOrganisation(owner, `bk${i}`);
      await sampleRowsFor(owner, tables, { id: organisation.id, userId: organisation.users.owner });
      for (let p = 0; p < 5 + i; p++) {
        await owner.query("insert into crm.people (organisation_id, first_name, email) values ($1, $2, $3)", [
          organisation.id,
          `Person ${p}`,
          `p${p}-${randomUUID()}@example.test`,
        ]);
      }
      created.push(organisation);
    }
    return created;
  } finally {
    await owner.end();
  }
}

beforeAll(async () => {
  scratch = await createScratchDatabase(testDatabase().serverRootUrl, "bk");
  backupDirectory = await fs.mkdtemp(path.join(os.tmpdir(), "prospectflow-backups-"));
  organisations = await loadOrganisations(3);
});

afterAll(async () => {
  await scratch.drop();
  await fs.rm(backupDirectory, { recursive: true, force: true });
});

describe("a full backup and restore", () => {
  it("brings back every table's rows exactly, after the database and its roles were dropped", async () => {
    const before = await fingerprint();
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining(["crm.people", "iam.organisations", "graphile_migrate.migrations"]),
    );
    const backedUp = await backup("full");
    expect(backedUp.code, backedUp.stderr).toBe(0);
    const file = writtenFile(backedUp.stdout);
    expect(path.basename(file)).toMatch(new RegExp(`^${scratch.name}-full-\\d{8}T\\d{9}Z\\.dump$`));
    expect((await fs.stat(file)).mode & 0o077).toBe(0);
    const manifest = (await readManifest(file))!;
    expect(manifest.rowCounts["crm.people"]).toBe(Number(before["crm.people"]!.split(":")[0]));

    await scratch.drop();
    const restored = await restore(file);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain("row counts match the backup's manifest");
    expect(restored.stdout).toContain("There was no database to keep a copy of.");
    expect(await fingerprint()).toEqual(before);
  });

  it("keeps row-level security isolating organisations after the restore", async () => {
    const authenticator = new pg.Pool({ connectionString: scratch.urls.authenticatorUrl, max: 2 });
    const owner = new pg.Pool({ connectionString: scratch.urls.ownerUrl, max: 1 });
    try {
      const tenantTables = (await listTables(owner)).filter((table) => table.isTenantTable);
      expect(tenantTables.length).toBeGreaterThan(5);
      for (const organisation of organisations) {
        for (const table of tenantTables) {
          const { rows: expected } = await owner.query<{ count: number }>(
            `select count(*)::int as count from ${quoteTable(table.name)} where organisation_id = $1`,
            [organisation.id],
          );
          const seen = await asMember(
            authenticator,
            { organisationId: organisation.id, userId: organisation.users.owner },
            (client) =>
              client.query<{ own: number; foreign: number }>(
                `select count(*) filter (where organisation_id = $1)::int as own,
                      count(*) filter (where organisation_id <> $1)::int as foreign
                 from ${quoteTable(table.name)}`,
                [organisation.id],
              ),
          );
          expect({ table: table.name, ...seen.rows[0] }).toEqual({
            table: table.name,
            own: expected[0]!.count,
            foreign: 0,
          });
        }
      }
    } finally {
      await authenticator.end();
      await owner.end();
    }
  });

  it("leaves a database the server (MIGRATE_ON_START=false) finds ready", async () => {
    const server = await startServerFor(
      { authenticatorUrl: scratch.urls.authenticatorUrl },
      { MIGRATE_ON_START: "false" },
    );
    try {
      expect(await getJson(`${server.url}/readyz`)).toEqual({
        status: 200,
        body: { status: "ready", database: "ok", migrations: "ok" },
      });
    } finally {
      await server.close();
    }
  });

  it("takes a safety dump of the current database first, which holds the state it replaced", async () => {
    const file = writtenFile((await backup("full")).stdout);
    const owner = new pg.Client({ connectionString: scratch.urls.ownerUrl });
    await owner.connect();
    await owner.query("insert into crm.people (organisation_id, first_name, email) values ($1, 'Late', $2)", [
      organisations[0]!.id,
      `late-${randomUUID()}@example.test`,
    ]);
    await owner.end();
    const changed = await fingerprint();

    const restored = await restore(file);
    expect(restored.code, restored.stderr).toBe(0);
    const safety = /The database as it was before: (\S+)/.exec(restored.stdout)?.[1];
    expect(safety).toMatch(/-pre-restore-\d{8}T\d{9}Z\.dump$/);
    const safetyManifest = (await readManifest(safety!))!;
    expect(safetyManifest.rowCounts["crm.people"]).toBe(Number(changed["crm.people"]!.split(":")[0]));
    expect((await fingerprint())["crm.people"]).not.toBe(changed["crm.people"]);
  });
});

describe("backup modes", () => {
  it("schema holds definitions and no rows; data holds rows and no definitions", async () => {
    const schema = writtenFile((await backup("schema")).stdout);
    const data = writtenFile((await backup("data")).stdout);
    expect(path.basename(schema)).toContain("-schema-");
    expect(path.basename(data)).toContain("-data-");
    const list = async (file: string) =>
      parseTableOfContents((await runTool(tools.pgRestore, ["--list", file])).stdout);
    const schemaContents = await list(schema);
    const dataContents = await list(data);
    expect(schemaContents.tables).toContain("crm.people");
    expect(schemaContents.tablesWithData).toEqual([]);
    expect(dataContents.tables).toEqual([]);
    expect(dataContents.tablesWithData).toContain("crm.people");
  });

  it("rejects an unknown mode with the list of modes", async () => {
    const result = await backup("weekly");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Unknown backup mode "weekly": use full, schema or data.');
  });
});

describe("retention", () => {
  it("prunes this database's dumps older than BACKUP_RETENTION_DAYS and nothing else", async () => {
    const day = 24 * 60 * 60 * 1000;
    const old = path.join(backupDirectory, dumpFileName(scratch.name, "full", new Date(Date.now() - 31 * day)));
    const recent = path.join(backupDirectory, dumpFileName(scratch.name, "full", new Date(Date.now() - 29 * day)));
    const otherDatabase = path.join(
      backupDirectory,
      dumpFileName("someone_else", "full", new Date(Date.now() - 90 * day)),
    );
    const unrelated = path.join(backupDirectory, "notes.txt");
    for (const file of [old, `${old}.json`, recent, otherDatabase, unrelated]) await fs.writeFile(file, "placeholder");

    const result = await backup("full");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("pruned 1 dump(s) older than 30 days");
    const remaining = await fs.readdir(backupDirectory);
    expect(remaining).not.toContain(path.basename(old));
    expect(remaining).not.toContain(`${path.basename(old)}.json`);
    expect(remaining).toEqual(
      expect.arrayContaining([path.basename(recent), path.basename(otherDatabase), "notes.txt"]),
    );
  });
});

describe("a restore refuses, and leaves the database as it was", () => {
  let good: string;
  let before: Record<string, string>;

  beforeAll(async () => {
    good = writtenFile((await backup("full")).stdout);
    before = await fingerprint();
  });

  const refuses = async (file: string, message: RegExp) => {
    const dumpsBefore = await fs.readdir(backupDirectory);
    const result = await restore(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(await fingerprint()).toEqual(before);
    expect(await fs.readdir(backupDirectory)).toEqual(dumpsBefore);
  };

  it("a file that is not a dump", async () => {
    const file = path.join(backupDirectory, "not-a-dump.txt");
    await fs.writeFile(file, "hello, I am text");
    await refuses(file, /not-a-dump\.txt is not a PostgreSQL custom-format dump/);
    await fs.rm(file);
  });

  it("a missing file", async () => {
    await refuses(path.join(backupDirectory, "missing.dump"), /No such file: .*missing\.dump/);
  });

  it("a truncated dump", async () => {
    const file = path.join(os.tmpdir(), `truncated-${randomUUID()}.dump`);
    const bytes = await fs.readFile(good);
    await fs.writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    try {
      await refuses(file, /is damaged or unreadable: pg_restore: error/);
    } finally {
      await fs.rm(file, { force: true });
    }
  });

  it("a dump that no longer matches its manifest's checksum", async () => {
    const copy = path.join(os.tmpdir(), `tampered-${randomUUID()}.dump`);
    const other = writtenFile((await backup("schema")).stdout);
    await fs.copyFile(other, copy);
    await fs.copyFile(`${good}.json`, `${copy}.json`);
    try {
      await refuses(copy, /does not match the checksum in its manifest/);
    } finally {
      await fs.rm(copy, { force: true });
      await fs.rm(`${copy}.json`, { force: true });
    }
  });

  it("a data-only dump", async () => {
    const data = writtenFile((await backup("data")).stdout);
    await refuses(data, /is a data-only dump: it cannot recreate the database on its own/);
  });

  it("a database that is in use, naming who uses it", async () => {
    const session = new pg.Client({
      connectionString: scratch.urls.authenticatorUrl,
      application_name: "someone-else",
    });
    await session.connect();
    try {
      await refuses(good, /Database pf_bk_\w+ is in use \(1 × someone-else\)\. Stop what uses it first/);
    } finally {
      await session.end();
    }
  });
});

describe("client tools older than the server", () => {
  it("a backup of a newer PostgreSQL fails with a clear message about pg_dump's version", async () => {
    const clientMajor = await toolMajorVersion(tools.pgDump);
    const newer = await startRestartablePostgres(); // PostgreSQL 18
    try {
      const result = await runCli("src/cli/backup.ts", [], {
        DATABASE_URL: newer.rootUrl,
        AUTH_DATABASE_URL: newer.rootUrl.replace("//postgres:", "//authenticator:"),
        BACKUP_DIR: backupDirectory,
      });
      if (clientMajor < 18) {
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`pg_dump ${clientMajor} (pg_dump) cannot dump a PostgreSQL 18 server`);
        expect(result.stderr).toContain("set PG_BIN_DIR (e.g. /usr/lib/postgresql/18/bin)");
      } else {
        expect(result.code, result.stderr).toBe(0);
      }
    } finally {
      await newer.destroy();
    }
  });
});
