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
import { assertThrottleStoreUsable, createLimiters } from "./store.ts";

export interface Throttling {
  /** For the preset: the limits and the hashing bound, applied to every operation. */
  plugin: GraphileConfig.Plugin;
  /** For /graphql, before the body is read: addresses already refused are refused again cheaply. */
  middleware: RequestHandler;
}

export async function createThrottling(pool: pg.Pool, config: ThrottlingConfig, logger: Logger): Promise<Throttling> {
  if (config.enabled) await assertThrottleStoreUsable(pool);
  else logger.warn("THROTTLING=off: logins and sign-ups are not rate limited");
  const blockedAddresses = createBlockedAddresses();
  return {
    plugin: createThrottlingPlugin({
      limiters: config.enabled ? createLimiters(pool, config) : undefined,
      hashSlots: createConcurrencyLimit(config.passwordHashConcurrency, config.passwordHashQueueMs),
      blockedAddresses,
      logger,
    }),
    middleware: refuseBlockedAddresses(blockedAddresses, (req) => throttledAddress(clientAddressOf(req)), logger),
  };
}
