// Addresses the shared store has refused for anonymous mutations, remembered by this instance
// until their window ends: their further requests without a token are refused before the body is
// even read, so a flood of refused logins costs a few microseconds each instead of a GraphQL
// request's parsing and execution. (Anonymous requests can do nothing but these mutations.)
import type { NextFunction, Request, Response } from "express";
import type { Logger } from "../logger.ts";
import { requestLogger } from "../logger.ts";

export interface BlockedAddresses {
  block(address: string, retryAfterSeconds: number): void;
  /** Seconds left, or 0 when the address is not blocked. */
  secondsLeft(address: string): number;
}

/** Beyond this many entries, expired ones are swept on insert (a flood of addresses stays bounded in time). */
const SWEEP_ABOVE = 10_000;

export function createBlockedAddresses(): BlockedAddresses {
  const until = new Map<string, number>();
  return {
    block(address, retryAfterSeconds) {
      if (until.size > SWEEP_ABOVE) {
        const now = Date.now();
        for (const [key, end] of until) if (end <= now) until.delete(key);
      }
      until.set(address, Date.now() + retryAfterSeconds * 1000);
    },
    secondsLeft(address) {
      const end = until.get(address);
      if (end === undefined) return 0;
      const left = end - Date.now();
      if (left <= 0) {
        until.delete(address);
        return 0;
      }
      return Math.ceil(left / 1000);
    },
  };
}

/** Express middleware for /graphql: refuses token-less requests of a blocked address with 429. */
export function refuseBlockedAddresses(blocked: BlockedAddresses, addressOf: (req: Request) => string, logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== "POST" || req.get("authorization") !== undefined) {
      next();
      return;
    }
    const seconds = blocked.secondsLeft(addressOf(req));
    if (seconds === 0) {
      next();
      return;
    }
    res.locals.refusalCode = "RATE_LIMITED";
    requestLogger(req, logger).debug({ code: "RATE_LIMITED", retryAfterSeconds: seconds }, "blocked address refused");
    res
      .status(429)
      .set("Retry-After", String(seconds))
      .json({
        errors: [
          {
            message: `Too many requests without a token from your address; try again in ${seconds} s.`,
            extensions: { code: "RATE_LIMITED", retryAfterSeconds: seconds },
          },
        ],
      });
  };
}
