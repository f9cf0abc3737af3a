// Organisation export and import (data portability), and the operator commands as a person runs
// them: tenant:create, user:create, tenant:export, tenant:import, tenant:delete, each with --help,
// clear errors and a non-zero exit on failure.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { withDatabase, type DatabaseUrls } from "../src/db/connection-urls.ts";
import { runCommittedMigrations, runCurrentMigrationOnce } from "../src/db/migrations.ts";
import { prepareRolesAndDatabase } from "../src/db/prepare-database.ts";
import { createLogger } from "../src/logger.ts";
import { exportOrganisation } from "../src/tenancy/export-organisation.ts";
import { importOrganisation } from "../src/tenancy/import-organisation.ts";
import { quoteTableName, tenantTablesInOrder } from "../src/tenancy/tenant-tables.ts";
import { listTables } from "./helpers/catalog.ts";
import { createOrganisation, ownerPool, testDatabase } from "./helpers/database.ts";
import { sampleRowsFor } from "./helpers/row-factory.ts";

const owner = ownerPool();
let folder: string;

beforeAll(async () => {
  folder = await fs.mkdtemp(path.join(os.tmpdir(), "prospectflow-export-"));
});

afterAll(async () => {
  await owner.end();
  await fs.rm(folder, { recursive: true, force: true });
});

/** A migrated, empty database next to the test database. */
async function emptyDatabase(suffix: string): Promise<DatabaseUrls & { rootUrl: string }> {
  const base = testDatabase().urls;
  const name = `${new URL(base.ownerUrl).pathname.slice(1)}_${suffix}_${randomBytes(3).toString("hex")}`;
  const urls = {
    rootUrl: base.rootUrl,
    ownerUrl: withDatabase(base.ownerUrl, name),
    authenticatorUrl: withDatabase(base.authenticatorUrl, name),
    shadowUrl: undefined,
  };
  const logger = createLogger("silent");
  await prepareRolesAndDatabase(urls, logger);
  await runCommittedMigrations(urls, logger);
  await runCurrentMigrationOnce(urls, logger);
  return urls;
}

async function checksums(client: pg.Client | pg.Pool, organisationId: string): Promise<Record<string, string>> {
  const connection = client instanceof pg.Pool ? await client.connect() : client;
  try {
    const result: Record<string, string> = {};
    for (const table of await tenantTablesInOrder(connection)) {
      const { rows } = await connection.query(
        `select count(*) as n, coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as sum
           from ${quoteTableName(table.name)} t where ${table.filter}`,
        [organisationId],
      );
      result[table.name] = `${rows[0].n}:${rows[0].sum}`;
    }
    return result;
  } finally {
    if (client instanceof pg.Pool) (connection as pg.PoolClient).release();
  }
}

/** An organisation's status totals (app_private.status_totals), summed over their shards. */
async function statusTotals(client: pg.Client | pg.Pool, organisationId: string) {
  const { rows } = await client.query(
    `select counted, status, sum(total)::int as total from app_private.status_totals
      where organisation_id = $1 group by 1, 2 having sum(total) <> 0 order by 1, 2`,
    [organisationId],
  );
  return rows;
}

describe("export and import", () => {
  it("round-trips an organisation into an empty database with identical rows, and never exports another organisation's", async () => {
    const tables = await listTables(owner);
    const orgA = await createOrganisation(owner, "export-a");
    const orgB = await createOrganisation(owner, "export-b");
    const rowsA = await sampleRowsFor(owner, tables, { id: orgA.id, userId: orgA.users.owner });
    const rowsB = await sampleRowsFor(owner, tables, { id: orgB.id, userId: orgB.users.owner });
    await owner.query("insert into app_private.user_secrets (user_id, password_hash) values ($1, 'x')", [
      orgA.users.owner,
    ]);

    const file = path.join(folder, "a.json");
    const client = new pg.Client({ connectionString: testDatabase().urls.ownerUrl });
    await client.connect();
    let exported: Record<string, number>;
    try {
      const out = (await fs.open(file, "w")).createWriteStream();
      exported = await exportOrganisation(client, orgA.slug, out);
      out.end();
      await new Promise<void>((resolve) => out.once("close", () => resolve()));
    } finally {
      await client.end();
    }
    expect(exported["crm.people"]).toBeGreaterThan(0);
    expect(exported["iam.users"]).toBe(4);

    const text = readFileSync(file, "utf8");
    expect(text).toContain(orgA.id);
    expect(text).not.toContain(orgB.id);
    for (const row of rowsB.values()) {
      if (typeof row.id === "string") expect(text).not.toContain(row.id);
    }
    for (const userId of Object.values(orgB.users)) expect(text).not.toContain(userId);

    const target = await emptyDatabase("import");
    const targetClient = new pg.Client({ connectionString: target.ownerUrl });
    await targetClient.connect();
    try {
      const imported = await importOrganisation(targetClient, file);
      expect(imported).toEqual(exported);
      expect(await checksums(targetClient, orgA.id)).toEqual(await checksums(owner, orgA.id));
      expect(rowsA.size).toBeGreaterThan(10);
      // The status totals (written by triggers, off during the import) are rebuilt from the rows.
      const importedTotals = await statusTotals(targetClient, orgA.id);
      expect(importedTotals.length).toBeGreaterThan(0);
      expect(importedTotals).toEqual(await statusTotals(owner, orgA.id));
      // Importing the same organisation twice is refused, clearly.
      await expect(importOrganisation(targetClient, file)).rejects.toThrow(/already exists/);
    } finally {
      await targetClient.end();
    }

    // An export written before the totals existed (migration 000012) lists no status_totals: the
    // import counts them from the rows (app_hidden.recount_status_totals).
    const older = JSON.parse(text) as { tables: Record<string, unknown[]> };
    expect(older.tables["app_private.status_totals"]?.length).toBeGreaterThan(0);
    delete older.tables["app_private.status_totals"];
    const olderFile = path.join(folder, "a-before-000012.json");
    await fs.writeFile(olderFile, `${JSON.stringify(older)}\n`);
    const olderTarget = await emptyDatabase("import-older");
    const olderClient = new pg.Client({ connectionString: olderTarget.ownerUrl });
    await olderClient.connect();
    try {
      await importOrganisation(olderClient, olderFile);
      const recounted = await statusTotals(olderClient, orgA.id);
      expect(recounted.length).toBeGreaterThan(0);
      expect(recounted).toEqual(await statusTotals(owner, orgA.id));
    } finally {
      await olderClient.end();
    }
  });

  it("streams: rows are written as they are read, in batches", async () => {
    const org = await createOrganisation(owner, "export-stream");
    await owner.query(
      "insert into crm.people (organisation_id, email) select $1, format('bulk-%s@example.test', n) from generate_series(1, 2500) n",
      [org.id],
    );
    const client = new pg.Client({ connectionString: testDatabase().urls.ownerUrl });
    await client.connect();
    const chunks: number[] = [];
    const out = new PassThrough();
    out.on("data", (chunk: Buffer) => chunks.push(chunk.length));
    try {
      const counts = await exportOrganisation(client, org.slug, out);
      expect(counts["crm.people"]).toBe(2500);
    } finally {
      await client.end();
    }
    // Many writes, none holding the whole table: the largest is one batch of 1,000 people.
    const total = chunks.reduce((a, b) => a + b, 0);
    expect(chunks.length).toBeGreaterThan(10);
    expect(Math.max(...chunks)).toBeLessThan(total / 2);
  });
});

describe("operator commands", () => {
  const environment = () => {
    const { urls } = testDatabase();
    return {
      ...process.env,
      LOG_LEVEL: "warn",
      DATABASE_URL: urls.ownerUrl,
      AUTH_DATABASE_URL: urls.authenticatorUrl,
      ROOT_DATABASE_URL: urls.rootUrl,
    };
  };
  const run = (command: string, ...args: string[]) =>
    spawnSync(process.execPath, [path.join(projectRoot, "src/cli", `${command}.ts`), ...args], {
      cwd: projectRoot,
      env: environment(),
      encoding: "utf8",
      timeout: 60_000,
    });

  it.each(["tenant-create", "tenant-delete", "tenant-export", "tenant-import", "user-create"])(
    "%s --help explains itself",
    (command) => {
      const result = run(command, "--help");
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^Usage: npm run /);
    },
  );

  it.each([
    ["tenant-create", ["--name", "X"]],
    ["user-create", ["--email", "x@example.test"]],
    ["tenant-delete", ["--org", "x"]],
    ["tenant-export", []],
    ["tenant-import", ["--bogus"]],
  ])("%s with missing or unknown arguments exits 2 with the usage", (command, args) => {
    const result = run(command, ...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/Usage: npm run /);
  });

  it("creates a tenant and a user, exports it, refuses a wrong confirmation, then deletes it", async () => {
    const suffix = randomBytes(3).toString("hex");
    const created = run(
      "tenant-create",
      "--name",
      `Cli Corp ${suffix}`,
      "--owner-email",
      `cli-owner-${suffix}@example.test`,
      "--owner-password",
      "correct-horse-42",
    );
    expect(created.status, created.stderr).toBe(0);
    const slug = /slug: ([a-z0-9-]+)/.exec(created.stdout)![1]!;
    const user = run(
      "user-create",
      "--email",
      `cli-viewer-${suffix}@example.test`,
      "--password",
      "another-horse-42",
      "--org",
      slug,
      "--role",
      "viewer",
    );
    expect(user.status, user.stderr).toBe(0);
    // The operator vouches for both addresses: verified, so both sign in without a mailbox.
    for (const [email, password] of [
      [`cli-owner-${suffix}@example.test`, "correct-horse-42"],
      [`cli-viewer-${suffix}@example.test`, "another-horse-42"],
    ]) {
      const { rows: signedIn } = await owner.query(
        "select (g).organisation_id from app_hidden.login($1, $2, $3, 60) as g",
        [email, password, slug],
      );
      expect(signedIn).toHaveLength(1);
    }
    expect(
      run("user-create", "--email", `cli-viewer-${suffix}@example.test`, "--password", "another-horse-42").stderr,
    ).toMatch(/already exists/);
    expect(run("user-create", "--email", `weak-${suffix}@example.test`, "--password", "short").stderr).toMatch(
      /^Weak password/,
    );
    expect(run("tenant-create", "--name", "Dup", "--owner-email", `cli-owner-${suffix}@example.test`).status).toBe(1);

    const file = path.join(folder, `${slug}.json`);
    const exported = run("tenant-export", "--org", slug, "--out", file);
    expect(exported.status, exported.stderr).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8")).tables["iam.organisation_users"]).toHaveLength(2);
    expect(run("tenant-export", "--org", "no-such-org").stderr).toMatch(/No organisation with the slug/);
    expect(run("tenant-import", "--file", path.join(folder, "missing.json")).stderr).toMatch(/not a readable export/);

    const wrong = run("tenant-delete", "--org", slug, "--confirm", "something-else");
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/--confirm must repeat/);
    const deleted = run("tenant-delete", "--org", slug, "--confirm", slug);
    expect(deleted.status, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/iam.organisation_users: 2/);
    const { rowCount } = await owner.query("select 1 from iam.organisations where slug = $1", [slug]);
    expect(rowCount).toBe(0);
  });
});
