// The throttle's counters: rate-limiter-flexible's PostgreSQL store on app_throttle.counters (created
// by the migration; the serving role may only read and write that one table), so every API
// instance behind the load balancer counts against the same limits.
import pg from "pg";
import { RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";
import type { ThrottlingConfig } from "../config.ts";
import { limiterSettings, type LimiterName, type LimiterSettings } from "./rules.ts";

export const THROTTLE_SCHEMA = "app_throttle";
export const THROTTLE_TABLE = "counters";

export interface Limiter {
  name: LimiterName;
  settings: LimiterSettings;
  store: RateLimiterPostgres;
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

/** Fails start-up with a clear message when the serving role cannot use the counters table. */
export async function assertThrottleStoreUsable(pool: pg.Pool): Promise<void> {
  try {
    await pool.query(`select key, points, expire from ${THROTTLE_SCHEMA}.${THROTTLE_TABLE} limit 0`);
  } catch (error) {
    throw new Error(
      `Throttling needs ${THROTTLE_SCHEMA}.${THROTTLE_TABLE}, readable and writable by the serving role ` +
        `(${(error as Error).message}). Apply the migrations (the migration grants it to the roles that ` +
        "serve requests), or set THROTTLING=off.",
      { cause: error },
    );
  }
}

/** rate-limiter-flexible rejects with a RateLimiterRes when over the limit, with an Error when the store failed. */
export function isRefusal(error: unknown): error is RateLimiterRes {
  return error instanceof RateLimiterRes;
}
