// tenant:import streams: its peak memory does not grow with the export. The real command imports a
// small and a large export (people with positions at one company, as the bench organisations have)
// into empty databases; the large one's peak RSS stays within a small margin of the small one's
// although its file is tens of MB larger. IMPORT_RSS_PEOPLE sets the large size for a measurement
// by hand (e.g. 100000); the suite uses 20,000 (a 35 MB file), imported with a 32 MB heap. Also: a truncated or disordered export is refused
// and leaves nothing behind.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { finished } from "node:stream/promises";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { withDatabase, type DatabaseUrls } from "../src/db/connection-urls.ts";
import { runCommittedMigrations, runCurrentMigrationOnce } from "../src/db/migrations.ts";
import { prepareRolesAndDatabase } from "../src/db/prepare-database.ts";
import { createLogger } from "../src/logger.ts";
import { exportOrganisation } from "../src/tenancy/export-organisation.ts";
import { importOrganisation } from "../src/tenancy/import-organisation.ts";
import { createOrganisation, ownerPool, testDatabase } from "./helpers/database.ts";
import { serverEnvironment } from "./helpers/server-process.ts";

const LARGE = Number(process.env.IMPORT_RSS_PEOPLE ?? 20_000);
/** The import runs with this old-space limit, far less than the large file (0: Node's default, to measure). */
const HEAP_LIMIT_MIB = Number(process.env.IMPORT_RSS_HEAP_MIB ?? 32);
/** The command measured (another build's, to compare). */
const IMPORT_CLI = process.env.IMPORT_RSS_CLI ?? "src/cli/tenant-import.ts";
const SMALL = 1_000;
const owner = ownerPool();
let folder: string;
const databases: string[] = [];

beforeAll(async () => {
  folder = await fs.mkdtemp(path.join(os.tmpdir(), "prospectflow-import-rss-"));
});

afterAll(async () => {
  await owner.end();
  const root = new pg.Client({ connectionString: testDatabase().urls.rootUrl });
  await root.connect();
  for (const name of databases) await root.query(`drop database if exists ${root.escapeIdentifier(name)} with (force)`);
  await root.end();
  await fs.rm(folder, { recursive: true, force: true });
});

async function emptyDatabase(): Promise<DatabaseUrls & { rootUrl: string }> {
  const base = testDatabase().urls;
  const name = `${new URL(base.ownerUrl).pathname.slice(1)}_rss_${randomBytes(3).toString("hex")}`;
  databases.push(name);
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

/** An organisation of `people` people, each with a position at one of 100 companies, exported to a file. */
async function exportWithPeople(people: number): Promise<{ file: string; bytes: number }> {
  const org = await createOrganisation(owner, `rss-${people}`);
  await owner.query(
    `with companies as (
       insert into crm.companies (organisation_id, name) select $1, format('Company %s', n) from generate_series(1, 100) n
       returning id
     ), company_list as (select array_agg(id) as ids from companies),
     people as (
       insert into crm.people (organisation_id, first_name, last_name, email, status, linkedin_url, mobile_phone)
       select $1, format('First%s', n), format('Last%s', n), format('person-%s@example.test', n), 'new',
              format('https://www.linkedin.com/in/person-%s', n), '+33 6 12 34 56 78'
         from generate_series(1, $2) n
       returning id
     )
     insert into crm.positions (organisation_id, person_id, company_id, email)
     select $1, p.id, l.ids[1 + (abs(hashtext(p.id::text)) % 100)], format('work-%s@example.test', p.id)
       from people p, company_list l`,
    [org.id, people],
  );
  const file = path.join(folder, `export-${people}.json`);
  const client = new pg.Client({ connectionString: testDatabase().urls.ownerUrl });
  await client.connect();
  try {
    const out = createWriteStream(file);
    await exportOrganisation(client, org.slug, out);
    out.end();
    await finished(out);
  } finally {
    await client.end();
  }
  return { file, bytes: (await fs.stat(file)).size };
}

/** Runs `npm run tenant:import` as a real process into an empty database; returns its peak RSS in MiB. */
async function importPeakRss(file: string, nodeOptions: string[] = []): Promise<{ peakMiB: number; stdout: string }> {
  const urls = await emptyDatabase();
  const child = spawn(
    process.execPath,
    [...nodeOptions, "--import", path.join(projectRoot, "test/helpers/report-peak-rss.ts"), IMPORT_CLI, "--file", file],
    {
      cwd: projectRoot,
      env: serverEnvironment({ DATABASE_URL: urls.ownerUrl, AUTH_DATABASE_URL: urls.authenticatorUrl }),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(timer);
  expect(code, stderr).toBe(0);
  const kib = Number(/peak-rss-kib=(\d+)/.exec(stderr)?.[1]);
  return { peakMiB: kib / 1024, stdout };
}

it("imports a large export in about the memory of a small one", { timeout: 300_000 }, async () => {
  const small = await exportWithPeople(SMALL);
  const large = await exportWithPeople(LARGE);
  // V8 grows its heap lazily when it may: with a fixed small heap both must fit, which reading the
  // whole file (a string of its size, then every row as objects) cannot.
  const limit = HEAP_LIMIT_MIB > 0 ? [`--max-old-space-size=${HEAP_LIMIT_MIB}`] : [];
  const largeRun = await importPeakRss(large.file, limit);
  const smallRun = await importPeakRss(small.file, limit);
  // People, positions, companies, and the audit trail their inserts left in the source.
  expect(Number(/Imported (\d+) rows/.exec(largeRun.stdout)?.[1])).toBeGreaterThan(LARGE * 2);
  const fileGrowthMiB = (large.bytes - small.bytes) / 1024 / 1024;
  const rssGrowthMiB = largeRun.peakMiB - smallRun.peakMiB;
  console.info(
    `tenant:import peak RSS (heap limit ${HEAP_LIMIT_MIB || "default"}): ${SMALL} people (${(small.bytes / 1048576).toFixed(1)} MiB) ${smallRun.peakMiB.toFixed(0)} MiB; ` +
      `${LARGE} people (${(large.bytes / 1048576).toFixed(1)} MiB) ${largeRun.peakMiB.toFixed(0)} MiB`,
  );
  expect(fileGrowthMiB).toBeGreaterThan(30);
  if (HEAP_LIMIT_MIB > 0) expect(rssGrowthMiB).toBeLessThan(Math.min(30, fileGrowthMiB / 2));
});

it("refuses a truncated export and leaves nothing behind; the whole file beside it imports", async () => {
  const { file } = await exportWithPeople(50);
  const text = await fs.readFile(file, "utf8");
  const truncated = path.join(folder, "truncated.json");
  await fs.writeFile(truncated, text.slice(0, Math.floor(text.length * 0.8)));
  const urls = await emptyDatabase();
  const client = new pg.Client({ connectionString: urls.ownerUrl });
  await client.connect();
  try {
    await expect(importOrganisation(client, truncated)).rejects.toThrow(/not a readable export: .*truncated/);
    const { rows } = await client.query(
      "select (select count(*) from iam.organisations)::int as orgs, (select count(*) from crm.people)::int as people",
    );
    expect(rows[0]).toEqual({ orgs: 0, people: 0 });
    const counts = await importOrganisation(client, file);
    expect(counts["crm.people"]).toBe(50);
  } finally {
    await client.end();
  }
});

it("refuses an export whose tables are out of dependency order, or that is not JSON", async () => {
  const { file } = await exportWithPeople(5);
  const parsed = JSON.parse(await fs.readFile(file, "utf8")) as { tables: Record<string, unknown[]> };
  const names = Object.keys(parsed.tables);
  const reversed = path.join(folder, "reversed.json");
  await fs.writeFile(
    reversed,
    JSON.stringify({ ...parsed, tables: Object.fromEntries(names.reverse().map((n) => [n, parsed.tables[n]])) }),
  );
  const garbage = path.join(folder, "garbage.json");
  await fs.writeFile(garbage, '{"format": "prospectflow-organisation-export", "version": 1, "tables": [1, 2]}');
  const urls = await emptyDatabase();
  const client = new pg.Client({ connectionString: urls.ownerUrl });
  await client.connect();
  try {
    await expect(importOrganisation(client, reversed)).rejects.toThrow(/not in dependency order/);
    await expect(importOrganisation(client, garbage)).rejects.toThrow(/not a readable export|not a prospectflow/);
    const { rows } = await client.query("select count(*)::int as n from iam.organisations");
    expect(rows[0].n).toBe(0);
  } finally {
    await client.end();
  }
});
