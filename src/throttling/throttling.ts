// Builds the throttle for one server: the shared counters (unless THROTTLING=off) and this
// instance's password-hashing slots, as one GraphileConfig plugin for the preset.
import type { RequestHandler } from "express";
import type pg from "pg";
import type { ThrottlingConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { createBlockedAddresses, refuseBlockedAddresses } from "./blocked-addresses.ts";
import { createConcurrencyLimit } from "./concurrency.ts";
import { clientAddressOf, throttledAddress } from "./client-address.ts";
import { createThrottlingPlugin } from "./plugin.ts";
import { createLimiters, createMemoryLimiters, throttleStoreProblem, type Limiters } from "./store.ts";

export interface Throttling {
  /** For the preset: the limits and the hashing bound, applied to every operation. */
  plugin: GraphileConfig.Plugin;
  /** For /graphql, before the body is read: addresses already refused are refused again cheaply. */
  middleware: RequestHandler;
}

/**
 * With throttling on, a serving role that cannot use the counters table stops start-up in
 * production; in development (the current migration not committed yet) the counters are kept in
 * this process's memory instead, with a warning.
 */
export async function createThrottling(
  pool: pg.Pool,
  config: ThrottlingConfig,
  logger: Logger,
  options: { isProduction: boolean },
): Promise<Throttling> {
  let limiters: Limiters | undefined;
  if (!config.enabled) {
    logger.warn("THROTTLING=off: logins and sign-ups are not rate limited");
  } else {
    const problem = await throttleStoreProblem(pool);
    if (problem === undefined) limiters = createLimiters(pool, config);
    else if (options.isProduction) throw new Error(`${problem.charAt(0).toUpperCase()}${problem.slice(1)}.`);
    else {
      logger.warn(`${problem}; development: counting in this process's memory (not shared with other instances)`);
      limiters = createMemoryLimiters(config);
    }
  }
  const blockedAddresses = createBlockedAddresses();
  return {
    plugin: createThrottlingPlugin({
      limiters,
      hashSlots: createConcurrencyLimit(config.passwordHashConcurrency, config.passwordHashQueueMs),
      blockedAddresses,
      logger,
    }),
    middleware: refuseBlockedAddresses(blockedAddresses, (req) => throttledAddress(clientAddressOf(req)), logger),
  };
}
