// Runs graphile-migrate from code with the settings in .gmrc and the URLs chosen at start.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Logger as GraphileLogger } from "@graphile/logger";
import graphileMigrate, { type Settings } from "graphile-migrate";
import JSON5 from "json5";
import { projectRoot } from "../config.ts";
import type { Logger } from "../logger.ts";
import { databaseNameOf, withDatabase, type DatabaseUrls } from "./connection-urls.ts";

// graphile-migrate is CommonJS; its named exports are reached through the default export.
const { migrate, run, status, watch } = graphileMigrate;

export const migrationsFolder = path.join(projectRoot, "migrations");

/** graphile-migrate settings: .gmrc, plus connection strings and our logger. */
export function migrationSettings(urls: DatabaseUrls, logger: Logger): Settings {
  const fromFile = JSON5.parse(readFileSync(path.join(projectRoot, ".gmrc"), "utf8")) as Settings;
  const levels: Record<string, "error" | "warn" | "info" | "debug"> = {
    error: "error",
    warning: "warn",
    info: "info",
    debug: "debug",
  };
  return {
    ...fromFile,
    connectionString: urls.ownerUrl,
    // `status` and `watch` validate that a shadow URL is set even though they never connect to
    // it; without SHADOW_DATABASE_URL we name the conventional one (`commit` still needs it to exist).
    shadowConnectionString: urls.shadowUrl ?? withDatabase(urls.ownerUrl, `${databaseNameOf(urls.ownerUrl)}_shadow`),
    rootConnectionString: urls.rootUrl ?? "template1",
    migrationsFolder,
    logger: new GraphileLogger((scope) => (level, message, meta) => {
      logger[levels[level] ?? "info"]({ ...scope, ...meta, component: "graphile-migrate" }, message);
    }),
  };
}

/** Applies every committed migration not yet applied; a no-op when there are none. */
export async function runCommittedMigrations(urls: DatabaseUrls, logger: Logger): Promise<void> {
  await migrate(migrationSettings(urls, logger));
}

/** Runs the current migration (migrations/current/) once (what `graphile-migrate watch --once` does). */
export async function runCurrentMigrationOnce(urls: DatabaseUrls, logger: Logger): Promise<void> {
  await watch(migrationSettings(urls, logger), true);
}

/** Executes the current migration as it is, every time (watch skips an unchanged one). */
export async function executeCurrentMigration(urls: DatabaseUrls, logger: Logger): Promise<void> {
  const folder = path.join(migrationsFolder, "current");
  await run(migrationSettings(urls, logger), readCurrentMigrationText(), folder);
}

/**
 * The current migration as graphile-migrate sees it: migrations/current/NNN-*.sql in numeric
 * order, each part behind its `--! split:` marker.
 */
export function readCurrentMigrationText(): string {
  const folder = path.join(migrationsFolder, "current");
  const files = readdirSync(folder)
    .filter((file) => /^\d+(-[-_a-zA-Z0-9]*)?\.sql$/.test(file))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  return files
    .map((file) => `--! split: ${file}\n${readFileSync(path.join(folder, file), "utf8").trim()}\n`)
    .join("\n");
}

/** Names of committed migrations the database has not applied yet. */
export async function pendingMigrations(urls: DatabaseUrls, logger: Logger): Promise<string[]> {
  const result = await status(migrationSettings(urls, logger));
  return result.remainingMigrations ?? [];
}
