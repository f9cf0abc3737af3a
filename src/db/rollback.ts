// Rolling back the latest committed migration: graphile-migrate is forward-only, so each committed
// migration has a revert script beside it (migrations/revert/000005.sql reverts 000005.sql, and
// names the hash of the migration it reverts). A rollback runs that script, removes the
// migration's row from graphile_migrate.migrations and records the step in
// graphile_migrate.rollbacks, all in one transaction under graphile-migrate's advisory lock: the
// history's last row is then the previous migration again, whose hash is the reverted migration's
// `--! Previous:`, so a later `migrate` re-applies it through graphile-migrate's own hash chain.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import pg from "pg";
import type { Logger } from "../logger.ts";
import type { DatabaseUrls } from "./connection-urls.ts";
import { migrationSettings, migrationsFolder as projectMigrationsFolder } from "./migrations.ts";

// graphile-migrate's own placeholder substitution (`:DATABASE_VISITOR`, `:DATABASE_OWNER`…), so a
// revert script is compiled exactly like the migration it reverts; these modules are not part of
// its public entry point, hence the deep require.
const require = createRequire(import.meta.url);
const { parseSettings } = require("graphile-migrate/dist/settings.js") as {
  parseSettings: (settings: unknown) => Promise<{ pgSettings?: Record<string, string> }>;
};
const { compilePlaceholders } = require("graphile-migrate/dist/migration.js") as {
  compilePlaceholders: (parsedSettings: unknown, content: string) => string;
};

/** graphile-migrate's lock for migrating (`GRAPHILE MIGRATE` on a phone keypad): we never run beside it. */
const ADVISORY_LOCK_MIGRATE = "4727445306447283";

/** A revert script's name is the graphile-migrate name of the migration it reverts: `000005.sql`. */
const REVERT_FILE = /^([0-9]{6,})\.sql$/;
const REVERTS_HEADER = /^--! Reverts: (sha1:[0-9a-f]{40})$/m;

export interface RevertScript {
  /** graphile-migrate's name of the migration it reverts, e.g. `000005.sql`. */
  filename: string;
  fullPath: string;
  /** The `--! Reverts:` header: the hash of the committed migration this script undoes. */
  revertsHash: string;
  body: string;
  /** sha1 of the whole file, recorded with each rollback. */
  sha1: string;
}

export interface RollbackResult {
  filename: string;
  hash: string;
  previousHash: string | null;
  script: string;
  /** True when the revert ran and was then rolled back (--dry-run): nothing changed. */
  dryRun: boolean;
}

export interface RollbackOptions {
  /** The folder holding committed/ and revert/ (tests use their own); the project's by default. */
  migrationsFolder?: string;
  /** Runs the revert script and the history update, then rolls the transaction back. */
  dryRun?: boolean;
  /** How long the revert may wait for a lock (a busy table) before giving up; 10 s by default. */
  lockTimeoutMs?: number;
}

const LOCK_NOT_AVAILABLE = "55P03";

/** A rollback that cannot run as asked; the message says what to do (no SQL ran). */
export class RollbackRefused extends Error {
  override name = "RollbackRefused";
}

/** SQL with the migrations' placeholders (`:DATABASE_VISITOR`…) replaced, as graphile-migrate does for this database. */
export async function compilePlaceholdersFor(urls: DatabaseUrls, logger: Logger, sql: string): Promise<string> {
  return compilePlaceholders(await parseSettings(migrationSettings(urls, logger)), sql);
}

export function revertFolder(migrationsFolder: string): string {
  return path.join(migrationsFolder, "revert");
}

/** The revert scripts under migrations/revert/, by the file name of the migration each reverts. */
export function readRevertScripts(migrationsFolder: string = projectMigrationsFolder): Map<string, RevertScript> {
  const folder = revertFolder(migrationsFolder);
  const scripts = new Map<string, RevertScript>();
  if (!existsSync(folder)) return scripts;
  for (const name of readdirSync(folder)) {
    if (!name.endsWith(".sql")) continue;
    const fullPath = path.join(folder, name);
    if (!REVERT_FILE.test(name)) {
      throw new RollbackRefused(`${fullPath}: a revert script is named like the migration it reverts (000005.sql).`);
    }
    const text = readFileSync(fullPath, "utf8");
    const revertsHash = REVERTS_HEADER.exec(text)?.[1];
    if (revertsHash === undefined) {
      throw new RollbackRefused(
        `${fullPath} has no "--! Reverts: sha1:…" header naming the hash of the migration it reverts.`,
      );
    }
    if (/^--! no-transaction\b/im.test(text)) {
      throw new RollbackRefused(`${fullPath}: revert scripts always run in one transaction (no --! no-transaction).`);
    }
    const body = text.replace(/^--! .*\n/gm, "");
    scripts.set(name, {
      filename: name,
      fullPath,
      revertsHash,
      body,
      sha1: createHash("sha1").update(text).digest("hex"),
    });
  }
  return scripts;
}

const ROLLBACKS_TABLE = `
  create table if not exists graphile_migrate.rollbacks (
    filename text not null,
    hash text not null,
    previous_hash text,
    applied_at timestamptz not null,
    revert_script_sha1 text not null,
    rolled_back_at timestamptz not null default now(),
    rolled_back_by text not null default current_user
  );
  comment on table graphile_migrate.rollbacks is
    'Committed migrations rolled back with npm run migrate -- rollback (their rows left graphile_migrate.migrations).'`;

/**
 * Reverts the latest applied migration with its revert script, in one transaction: the schema
 * change, the removal of its history row and the record in graphile_migrate.rollbacks commit
 * together or not at all.
 */
export async function rollbackLatestMigration(
  urls: DatabaseUrls,
  logger: Logger,
  options: RollbackOptions = {},
): Promise<RollbackResult> {
  const lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  const folder = options.migrationsFolder ?? projectMigrationsFolder;
  const scripts = readRevertScripts(folder);
  const parsedSettings = await parseSettings({ ...migrationSettings(urls, logger), migrationsFolder: folder });
  const client = new pg.Client({ connectionString: urls.ownerUrl });
  await client.connect();
  try {
    const { rows: locked } = await client.query<{ locked: boolean }>("select pg_try_advisory_lock($1) as locked", [
      ADVISORY_LOCK_MIGRATE,
    ]);
    if (!locked[0]!.locked) {
      throw new RollbackRefused("Another migrate or rollback is running on this database; try again when it is done.");
    }
    try {
      const { rows: history } = await client
        .query<{
          filename: string;
          hash: string;
          previous_hash: string | null;
          date: Date;
        }>("select filename, hash, previous_hash, date from graphile_migrate.migrations order by filename desc limit 1")
        .catch((error: unknown) => {
          if ((error as { code?: string }).code === "42P01") return { rows: [] };
          throw error;
        });
      const latest = history[0];
      if (latest === undefined) throw new RollbackRefused("No committed migration is applied: nothing to roll back.");
      const script = scripts.get(latest.filename);
      if (script === undefined) {
        throw new RollbackRefused(
          `No revert script for ${latest.filename}: write ${path.join(revertFolder(folder), latest.filename)} ` +
            `(header "--! Reverts: ${latest.hash}"), or restore the backup taken before it was applied.`,
        );
      }
      if (script.revertsHash !== latest.hash) {
        throw new RollbackRefused(
          `${script.fullPath} reverts the migration with hash ${script.revertsHash}, but the database applied ` +
            `${latest.filename} with hash ${latest.hash}: it is not the migration this script was written for.`,
        );
      }
      logger.info({ migration: latest.filename, script: script.fullPath }, "rolling back the latest migration");
      await client.query("begin");
      try {
        // Waiting behind a long transaction would queue every request behind the revert's locks.
        await client.query(`set local lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
        // The settings graphile-migrate gives its own sessions (.gmrc pgSettings: the search_path).
        for (const [name, value] of Object.entries(parsedSettings.pgSettings ?? {})) {
          await client.query("select pg_catalog.set_config($1, $2, true)", [name, value]);
        }
        await client.query(compilePlaceholders(parsedSettings, script.body));
        await client.query(ROLLBACKS_TABLE);
        await client.query(
          `insert into graphile_migrate.rollbacks (filename, hash, previous_hash, applied_at, revert_script_sha1)
           values ($1, $2, $3, $4, $5)`,
          [latest.filename, latest.hash, latest.previous_hash, latest.date, script.sha1],
        );
        await client.query("delete from graphile_migrate.migrations where hash = $1", [latest.hash]);
        await client.query(options.dryRun ? "rollback" : "commit");
      } catch (error) {
        await client.query("rollback");
        // The database's own error (and SQLSTATE) is kept; the message says which script and that nothing changed.
        if (error instanceof Error) {
          const busy =
            (error as { code?: string }).code === LOCK_NOT_AVAILABLE
              ? ` (a table stayed locked for ${lockTimeoutMs} ms: stop the API, or whatever holds it, and retry)`
              : "";
          error.message = `${script.fullPath} failed, nothing was changed: ${error.message}${busy}`;
        }
        throw error;
      }
      return {
        filename: latest.filename,
        hash: latest.hash,
        previousHash: latest.previous_hash,
        script: script.fullPath,
        dryRun: options.dryRun ?? false,
      };
    } finally {
      await client.query("select pg_advisory_unlock($1)", [ADVISORY_LOCK_MIGRATE]);
    }
  } finally {
    await client.end();
  }
}
