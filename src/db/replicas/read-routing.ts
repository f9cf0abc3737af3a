// Per-request database routing when read replicas are configured: a GraphQL query runs on a
// replica that has replayed everything its client wrote; a mutation (the whole operation, so
// everything after its write too) runs on the primary. Decided once per request from cached
// state (no query to choose), in the grafast context (src/graphql/preset.ts) by replacing the
// `withPgClient` PostGraphile's PgContextPlugin put there for the primary.
import type { Request, Response } from "express";
import { getOperationAST, type DocumentNode } from "postgraphile/graphql";
import type pg from "pg";
import type { WithPgClient as AnyWithPgClient } from "postgraphile/@dataplan/pg";
import type { NodePostgresPgClient } from "postgraphile/adaptors/pg";
import { makeRequestWithPgClient } from "../request-transaction.ts";
import type { RequestAuthentication } from "../../auth/request-authentication.ts";
import type { Logger } from "../../logger.ts";
import { formatLsn, maxLsn, parseLsn, WRITE_POSITION_HEADER, type Lsn } from "./lsn.ts";
import type { Replica, ReplicaSet } from "./replica-set.ts";

/** PostGraphile's context callback for the `pg` adaptor (context.withPgClient). */
type WithPgClient = AnyWithPgClient<NodePostgresPgClient>;

/** What the router needs to know of one request. */
export interface RoutedRequest {
  document: DocumentNode | undefined;
  operationName: string | null | undefined;
  /** The primary's withPgClient (from PgContextPlugin). */
  primary: WithPgClient | undefined;
  authentication: RequestAuthentication | undefined;
  req: Request | undefined;
  res: Response | undefined;
}

export interface ReadRouter {
  /** The grafast context additions for one request: `withPgClient`, or nothing (the primary as usual). */
  contextFor(request: RoutedRequest): { withPgClient?: WithPgClient };
  /** The last write positions this instance knows per session (for tests and diagnostics). */
  readonly writePositions: WritePositions;
}

/** Failing to connect to a replica is not the request's fault: it is retried on the primary. */
class ReplicaConnectFailed extends Error {
  override name = "ReplicaConnectFailed";
}

/**
 * SQLSTATEs after which a read is retried on the primary: a standby cancels queries that conflict
 * with replay (40001, 40P01) and refuses or drops connections while it shuts down or starts (57P0x).
 * Reads only, so running the work again is safe.
 */
const RETRY_ON_PRIMARY = new Set(["40001", "40P01", "57P01", "57P02", "57P03"]);

/**
 * The replica (or the PgBouncer in front of it) is gone: connection exceptions (class 08, which
 * PgBouncer also sends when it cannot reach the server) and node-postgres's own error for a
 * connection that closed mid-query. Retried on the primary, and the replica is skipped until its
 * next successful check.
 */
function replicaWentAway(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === "string") return code.startsWith("08");
  return typeof message === "string" && /^Connection terminated/.test(message);
}

export function createReadRouter(options: {
  replicaSet: ReplicaSet;
  primaryPool: pg.Pool;
  logger: Logger;
}): ReadRouter {
  const { replicaSet, primaryPool, logger } = options;
  // A replica is used only while it holds every commit older than maxLag (ReplicaSet.isUsable):
  // a write older than that needs no routing. (Its position is recorded after the commit.)
  const writePositions = new WritePositions(replicaSet.maxLagMs);
  // A token signed this recently names a session row that a replica may not have yet: it reads
  // from the primary. (iat has one-second resolution; the row committed before the signature.)
  const freshTokenMs = replicaSet.maxLagMs + 1_000;
  const replicaClients = new Map<Replica, WithPgClient>(
    replicaSet.replicas.map((replica) => {
      const connectOnly = {
        connect: () =>
          replica.pool.connect().catch((error: unknown) => {
            throw new ReplicaConnectFailed(`cannot connect to ${replica.name}`, { cause: error });
          }),
      };
      // makeRequestWithPgClient only ever calls connect() on what it is given.
      return [replica, makeRequestWithPgClient(connectOnly as unknown as pg.Pool)];
    }),
  );

  /** After a write commits: remember the primary's position for this session and tell the client. */
  async function recordWrite(key: string | undefined, res: Response | undefined): Promise<void> {
    try {
      const { rows } = await primaryPool.query<{ lsn: string }>("select pg_catalog.pg_current_wal_lsn()::text as lsn");
      const lsn = parseLsn(rows[0]?.lsn);
      if (lsn === undefined) return;
      if (key !== undefined) writePositions.remember(key, lsn);
      if (res !== undefined && !res.headersSent) res.setHeader(WRITE_POSITION_HEADER, formatLsn(lsn));
    } catch (error) {
      // The write itself succeeded; only read-your-writes for other instances is weakened.
      logger.warn({ err: error }, "could not read the primary's WAL position after a write");
    }
  }

  return {
    writePositions,
    contextFor({ document, operationName, primary, authentication, req, res }) {
      if (primary === undefined || document === undefined) return {};
      const operation = getOperationAST(document, operationName ?? undefined)?.operation;
      const key = sessionKey(authentication);
      if (operation === "mutation") {
        // Anonymous mutations (login, register, resets) have no session whose later reads need the
        // write (a token they sign is fresh: it reads the primary anyway), so they pay no extra
        // round trip and learn nothing about the primary's write position.
        if (key === undefined) return {};
        const withPgClient: WithPgClient = async (pgSettings, callback) => {
          const result = await primary(pgSettings, callback);
          await recordWrite(key, res);
          return result;
        };
        return { withPgClient };
      }
      if (operation !== "query") return {};
      if (
        authentication?.kind === "member" &&
        authentication.issuedAt !== undefined &&
        Date.now() - authentication.issuedAt * 1000 < freshTokenMs
      ) {
        return {};
      }
      const echoed = parseLsn(req?.get(WRITE_POSITION_HEADER));
      const required = maxLsn(echoed, key === undefined ? undefined : writePositions.lookup(key));
      // Chosen at the first database call, then kept for the request: every batch of one query
      // reads the same replica (replicas differ in how far they have replayed).
      let chosen: Replica | "primary" | undefined;
      const withPgClient: WithPgClient = async (pgSettings, callback) => {
        chosen ??= replicaSet.choose(required) ?? "primary";
        const replica = chosen;
        if (replica === "primary") return primary(pgSettings, callback);
        try {
          const result = await replicaClients.get(replica)!(pgSettings, callback);
          replica.served++;
          return result;
        } catch (error) {
          if (error instanceof ReplicaConnectFailed || replicaWentAway(error)) {
            replicaSet.markUnreachable(replica, error instanceof ReplicaConnectFailed ? error.cause : error);
            chosen = "primary";
            return primary(pgSettings, callback);
          }
          const code = (error as { code?: unknown }).code;
          if (typeof code === "string" && RETRY_ON_PRIMARY.has(code)) {
            logger.warn({ err: error, replica: replica.name }, "read cancelled on a replica; retried on the primary");
            chosen = "primary";
            return primary(pgSettings, callback);
          }
          throw error;
        }
      };
      return { withPgClient };
    },
  };
}

function sessionKey(authentication: RequestAuthentication | undefined): string | undefined {
  if (authentication?.kind !== "member") return undefined;
  // Every token names its session (tokens without `sid` are refused before this).
  return authentication.sessionId;
}

/**
 * The last write position per session, for as long as a usable replica could still lack it:
 * a usable replica has replayed a primary position sampled at most maxLag ago, so a write
 * older than that (plus the checks' own staleness) is on every replica that may be chosen.
 * Oldest first, bounded; an old or forgotten write needs no routing any more.
 */
export class WritePositions {
  private readonly positions = new Map<string, { lsn: Lsn; at: number }>();
  private readonly windowMs: number;
  private readonly limit: number;
  constructor(windowMs: number, limit = 100_000) {
    this.windowMs = windowMs;
    this.limit = limit;
  }

  remember(key: string, lsn: Lsn, now = Date.now()): void {
    const known = this.positions.get(key);
    this.positions.delete(key);
    this.positions.set(key, { lsn: known !== undefined && known.lsn > lsn ? known.lsn : lsn, at: now });
    for (const [oldest, entry] of this.positions) {
      if (now - entry.at <= this.windowMs && this.positions.size <= this.limit) break;
      this.positions.delete(oldest);
    }
  }

  lookup(key: string, now = Date.now()): Lsn | undefined {
    const entry = this.positions.get(key);
    return entry !== undefined && now - entry.at <= this.windowMs ? entry.lsn : undefined;
  }

  get size(): number {
    return this.positions.size;
  }
}
