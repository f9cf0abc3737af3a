// The benchmark's own databases: one per preset (prospectflow_bench_<preset>) on the project's
// PostgreSQL server (the embedded one unless database variables say otherwise), created with the
// project's roles and migrations, seeded once and reused while the seed stays the same.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { loadConfig } from "../src/config.ts";
import { connectDatabase, type Database } from "../src/db/bootstrap.ts";
import { databaseNameOf, withDatabase, type DatabaseUrls } from "../src/db/connection-urls.ts";
import { runCommittedMigrations, runCurrentMigrationOnce } from "../src/db/migrations.ts";
import { allowAuthenticatorToReadMigrationHistory, prepareRolesAndDatabase } from "../src/db/prepare-database.ts";
import { createLogger, type Logger } from "../src/logger.ts";
import { benchDatabaseName, type Preset } from "./presets.ts";
import { seedDatabase, type SeedSummary } from "./seed/seed.ts";

export const benchRoot = path.dirname(fileURLToPath(import.meta.url));
export const SEED_SQL_FILE = path.join(benchRoot, "seed", "seed.sql");

export interface BenchCluster {
  /** Superuser, owner and authenticator URLs of the server (main database names). */
  database: Database;
  rootUrl: string;
  logger: Logger;
}

/** The project's PostgreSQL server: embedded (started or reused) or the configured one. */
export async function connectBenchCluster(): Promise<BenchCluster> {
  // Maintenance purpose: the bench signs its own tokens and needs no JWT_SECRET from the environment.
  const config = loadConfig(process.env, "maintenance");
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const database = await connectDatabase(config, logger);
  const rootUrl = database.urls.rootUrl;
  if (rootUrl === undefined) {
    await database.stop();
    throw new Error(
      "The benchmark creates its own databases and a bench-only role: it needs ROOT_DATABASE_URL " +
        "(or no database variables at all, to use the embedded PostgreSQL).",
    );
  }
  return { database, rootUrl, logger };
}

/** The URLs of a preset's bench database: same server and roles, another database. */
export function benchUrls(cluster: BenchCluster, preset: Preset): DatabaseUrls & { rootUrl: string } {
  const name = benchDatabaseName(preset);
  const { urls } = cluster.database;
  return {
    rootUrl: cluster.rootUrl,
    ownerUrl: withDatabase(urls.ownerUrl, name),
    authenticatorUrl: withDatabase(urls.authenticatorUrl, name),
    shadowUrl: withDatabase(urls.ownerUrl, `${name}_shadow`),
  };
}

/** What identifies a seeded data set: the preset's sizes and the seed SQL's text. */
export function seedFingerprint(preset: Preset): string {
  return createHash("sha256")
    .update(JSON.stringify({ ...preset, description: undefined }))
    .update(readFileSync(SEED_SQL_FILE))
    .digest("hex")
    .slice(0, 16);
}

export interface SeedInfo extends SeedSummary {
  fingerprint: string;
  seededAt: string;
  /** False when an existing, identical data set was reused. */
  seededNow: boolean;
}

async function readSeedInfo(ownerUrl: string): Promise<SeedInfo | undefined> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<SeedInfo>(
      `select preset, fingerprint, to_json(seeded_at) #>> '{}' as "seededAt", seconds, rows,
              pixel_tokens::integer as "pixelTokens", phases
         from bench.seed_info order by id desc limit 1`,
    );
    return rows[0];
  } catch (error) {
    if ((error as { code?: string }).code === "42P01" || (error as { code?: string }).code === "3F000")
      return undefined;
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * Makes sure the preset's database exists, is migrated (committed migrations and the current
 * work in progress, as the tests do) and holds the seed of this preset and seed.sql; reseeds
 * from an empty database otherwise, or when asked to.
 */
export async function ensureBenchDatabase(
  cluster: BenchCluster,
  preset: Preset,
  options: { reseed: boolean; log: (line: string) => void },
): Promise<{ urls: DatabaseUrls & { rootUrl: string }; seed: SeedInfo }> {
  const urls = benchUrls(cluster, preset);
  const fingerprint = seedFingerprint(preset);
  // The roles may not exist yet (a fresh embedded cluster): create them, and the database if missing.
  await prepareRolesAndDatabase(urls, cluster.logger);
  const existing = options.reseed ? undefined : await readSeedInfo(urls.ownerUrl);
  if (existing?.fingerprint === fingerprint) {
    options.log(
      `[seed] reusing ${databaseNameOf(urls.ownerUrl)} (preset ${preset.name}, seeded ${existing.seededAt} in ${existing.seconds.toFixed(0)} s)`,
    );
    await migrate(urls, cluster.logger);
    return { urls, seed: { ...existing, seededNow: false } };
  }
  options.log(
    `[seed] ${existing ? "re-creating" : "creating"} ${databaseNameOf(urls.ownerUrl)}: ${preset.description}`,
  );
  await dropDatabase(urls.rootUrl, databaseNameOf(urls.ownerUrl));
  await prepareRolesAndDatabase(urls, cluster.logger);
  await migrate(urls, cluster.logger);
  const summary = await seedDatabase(urls.ownerUrl, preset, fingerprint, options.log);
  return {
    urls,
    seed: { ...summary, fingerprint, seededAt: new Date().toISOString(), seededNow: true },
  };
}

async function migrate(urls: DatabaseUrls, logger: Logger): Promise<void> {
  await runCommittedMigrations(urls, logger);
  await runCurrentMigrationOnce(urls, logger);
  await allowAuthenticatorToReadMigrationHistory(urls);
}

async function dropDatabase(rootUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: rootUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
  } finally {
    await client.end();
  }
}

/** Runs work with a client of the given URL, closing it afterwards. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
