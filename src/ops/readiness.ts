// Readiness (/readyz): the database answers through the server's own pool, and it has applied
// every committed migration this build ships. Liveness (/healthz) needs none of this.
import type pg from "pg";
import type { ReplicaStatus } from "../db/replicas/replica-set.ts";
import type { Logger } from "../logger.ts";
import type { CommittedMigration } from "./committed-migrations.ts";
import { describeDatabaseFailure } from "./database-failures.ts";

export interface ReadinessReport {
  status: "ready" | "unavailable";
  database: "ok" | "unreachable";
  migrations: "ok" | "pending" | "unknown";
  /** Committed migrations (graphile-migrate file names) the database has not applied. */
  pending?: string[];
  /** Why it is not ready, for an operator. */
  reason?: string;
  /**
   * Read replicas, when configured: each one's state and lag. A skipped replica does not make
   * the server unready (its queries go to the primary); it is reported here and in the log.
   */
  replicas?: ReplicaStatus[];
}

const INSUFFICIENT_PRIVILEGE = "42501";
const UNDEFINED_TABLE = "42P01";

export interface ReadinessCheck {
  pool: pg.Pool;
  committed: CommittedMigration[];
  logger: Logger;
  /** The read replicas' monitor (READ_DATABASE_URL), if any. */
  replicas?: { replicaStatus(): ReplicaStatus[] } | undefined;
}

export async function checkReadiness(check: ReadinessCheck): Promise<ReadinessReport> {
  const report = await checkPrimary(check);
  return check.replicas === undefined ? report : { ...report, replicas: check.replicas.replicaStatus() };
}

async function checkPrimary({ pool, committed, logger }: ReadinessCheck): Promise<ReadinessReport> {
  let applied: Set<string>;
  try {
    // Runs as the authenticator (no role switch): start-up or the migrate job granted it this read.
    const { rows } = await pool.query<{ hash: string }>("select hash from graphile_migrate.migrations");
    applied = new Set(rows.map((row) => row.hash));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === INSUFFICIENT_PRIVILEGE || code === UNDEFINED_TABLE || code === "3F000") {
      return {
        status: "unavailable",
        database: "ok",
        migrations: "unknown",
        reason:
          "the migration history is missing or unreadable by the authenticator: run the migrations " +
          "(MIGRATE_ON_START=true, or the compose `migrate` service)",
      };
    }
    // The details (role names, addresses) go to the log, not to whoever polls /readyz.
    logger.warn({ err: error, reason: describeDatabaseFailure(error) }, "readiness: the database does not answer");
    return {
      status: "unavailable",
      database: "unreachable",
      migrations: "unknown",
      reason: "the database does not answer",
    };
  }
  const pending = committed.filter((migration) => !applied.has(migration.hash)).map((migration) => migration.filename);
  if (pending.length > 0) {
    return {
      status: "unavailable",
      database: "ok",
      migrations: "pending",
      pending,
      reason: `${pending.length} committed migration(s) not applied`,
    };
  }
  return { status: "ready", database: "ok", migrations: "ok" };
}
