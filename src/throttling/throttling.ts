// Builds the throttle for one server: the shared counters (unless THROTTLING=off) and this
// instance's password-hashing slots, as one GraphileConfig plugin for the preset.
import type pg from "pg";
import type { ThrottlingConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { createConcurrencyLimit } from "./concurrency.ts";
import { createThrottlingPlugin } from "./plugin.ts";
import { assertThrottleStoreUsable, createLimiters } from "./store.ts";

export async function createThrottling(
  pool: pg.Pool,
  config: ThrottlingConfig,
  logger: Logger,
): Promise<GraphileConfig.Plugin> {
  if (config.enabled) await assertThrottleStoreUsable(pool);
  else logger.warn("THROTTLING=off: logins and sign-ups are not rate limited");
  return createThrottlingPlugin({
    limiters: config.enabled ? createLimiters(pool, config) : undefined,
    hashSlots: createConcurrencyLimit(config.passwordHashConcurrency, config.passwordHashQueueMs),
    logger,
  });
}
