// The public open-tracking endpoint, GET /t/<token>.gif: always a 1×1 GIF with no-cache headers,
// whatever the token. A well-formed token of a GET is recorded through app_hidden.record_open, the
// only thing the anonymous role may do; HEAD gets the same answer and is recorded nowhere, nor are
// unknown and malformed tokens. record_open decides what counts (sent messages only, one count per
// client network per minute, at most 100 events per token per hour) without ever waiting on a lock.
import type { Request, Response } from "express";
import pg from "pg";
import { ANONYMOUS_ROLE } from "../db/roles.ts";
import type { Logger } from "../logger.ts";
import type { Metrics, PixelOutcome } from "../metrics/metrics.ts";

/** The smallest transparent 1×1 GIF. */
export const TRANSPARENT_GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{32}$/;
const OUTCOMES = new Set<PixelOutcome>(["counted", "duplicate", "ignored"]);

export interface TrackingPixelOptions {
  pool: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  /** The transaction's statement timeout: a pixel never holds a connection longer than this. */
  statementTimeoutMs: number;
}

/**
 * One round trip, one short transaction: the statement text carries escaped literals because the
 * simple query protocol (needed for several statements) takes no parameters; the token is also
 * format-checked before it gets here.
 */
async function recordOpen(
  options: TrackingPixelOptions,
  token: string,
  ip: string | undefined,
  userAgent: string | undefined,
): Promise<PixelOutcome> {
  const literal = (value: string | undefined) => (value === undefined ? "null" : pg.escapeLiteral(value));
  const results = (await options.pool.query(
    `begin; set local role ${ANONYMOUS_ROLE};
     set local statement_timeout = ${Math.trunc(options.statementTimeoutMs)};
     select app_hidden.record_open(${literal(token)}, ${literal(ip)}::inet, ${literal(userAgent?.slice(0, 1000))}) as outcome;
     commit;`,
  )) as unknown as pg.QueryResult[];
  const outcome = results.find((result) => result.command === "SELECT")?.rows[0]?.outcome as PixelOutcome;
  return OUTCOMES.has(outcome) ? outcome : "failed";
}

export function trackingPixel(options: TrackingPixelOptions) {
  return async (req: Request, res: Response): Promise<void> => {
    const token = String(req.params.token ?? "");
    // express routes HEAD to GET handlers: a HEAD (a link checker, a proxy probing) is no open.
    if (req.method !== "GET") {
      options.metrics.pixelOpen("not_get");
    } else if (TOKEN_FORMAT.test(token)) {
      try {
        options.metrics.pixelOpen(
          await recordOpen(options, token, req.ip?.replace(/^::ffff:/, ""), req.get("user-agent")),
        );
      } catch (error) {
        // The recipient's mail client must still get its image; the failure is ours to see.
        options.metrics.pixelOpen("failed");
        options.logger.warn({ err: error }, "could not record a pixel open");
      }
    } else {
      options.metrics.pixelOpen("ignored");
    }
    res
      .status(200)
      .set({
        "Content-Type": "image/gif",
        "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
        Pragma: "no-cache",
        Expires: "0",
      })
      .end(TRANSPARENT_GIF);
  };
}
