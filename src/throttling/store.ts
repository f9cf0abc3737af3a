// The throttle's counters: rate-limiter-flexible's PostgreSQL store on app_throttle.counters (created
// by the migration; the serving role may only read and write that one table), so every API
// instance behind the load balancer counts against the same limits.
import pg from "pg";
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";
import type { ThrottlingConfig } from "../config.ts";
import { limiterSettings, type LimiterName, type LimiterSettings } from "./rules.ts";

export const THROTTLE_SCHEMA = "app_throttle";
export const THROTTLE_TABLE = "counters";

export interface Limiter {
  name: LimiterName;
  settings: LimiterSettings;
  store: RateLimiterAbstract;
}

export type Limiters = Record<LimiterName, Limiter>;

/**
 * The store's queries go through the pool without statement names: rate-limiter-flexible names its
 * prepared statements, which PgBouncer in transaction mode (compose) cannot keep per client.
 */
function unnamedStatements(pool: pg.Pool) {
  return {
    query: (query: { text: string; values?: unknown[] }) => pool.query(query.text, query.values),
  };
}

/**
 * Counters in this process's memory: only for development against a database that lacks the
 * throttle table (the current migration not committed yet); never shared, never in production.
 */
export function createMemoryLimiters(config: ThrottlingConfig): Limiters {
  const limiters = {} as Limiters;
  for (const [name, limiter] of Object.entries(limiterSettings(config)) as Array<[LimiterName, LimiterSettings]>) {
    limiters[name] = {
      name,
      settings: limiter,
      store: new RateLimiterMemory({ keyPrefix: name, points: limiter.points, duration: limiter.durationSeconds }),
    };
  }
  return limiters;
}

export function createLimiters(pool: pg.Pool, config: ThrottlingConfig): Limiters {
  const client = unnamedStatements(pool);
  const settings = limiterSettings(config);
  const limiters = {} as Limiters;
  for (const [name, limiter] of Object.entries(settings) as Array<[LimiterName, LimiterSettings]>) {
    limiters[name] = {
      name,
      settings: limiter,
      store: new RateLimiterPostgres({
        storeClient: client,
        storeType: "client",
        schemaName: THROTTLE_SCHEMA,
        tableName: THROTTLE_TABLE,
        tableCreated: true,
        keyPrefix: name,
        points: limiter.points,
        duration: limiter.durationSeconds,
        // Each instance deletes counters expired over an hour ago every 5 minutes (unref'd timer).
        clearExpiredByTimeout: true,
        // A key the store has refused is then refused from memory until its counter expires: a
        // flood from one address costs this instance no further database round trip.
        inMemoryBlockOnConsumed: limiter.points + 1,
      }),
    };
  }
  return limiters;
}

/** Why the serving role cannot use the counters table, or undefined when it can. */
export async function throttleStoreProblem(pool: pg.Pool): Promise<string | undefined> {
  try {
    await pool.query(`select key, points, expire from ${THROTTLE_SCHEMA}.${THROTTLE_TABLE} limit 0`);
    return undefined;
  } catch (error) {
    return (
      `throttling needs ${THROTTLE_SCHEMA}.${THROTTLE_TABLE}, readable and writable by the serving role ` +
      `(${(error as Error).message}); apply the migrations (the migration grants it to the roles that ` +
      "serve requests), or set THROTTLING=off"
    );
  }
}

/** rate-limiter-flexible rejects with a RateLimiterRes when over the limit, with an Error when the store failed. */
export function isRefusal(error: unknown): error is RateLimiterRes {
  return error instanceof RateLimiterRes;
}
