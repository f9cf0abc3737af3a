// The public open-tracking endpoint, GET /t/<token>.gif: always a 1×1 GIF with no-cache headers,
// whatever the token. A well-formed token is recorded through app_hidden.record_open, the only
// thing the anonymous role may do; unknown and malformed tokens are recorded nowhere.
import type { Request, Response } from "express";
import pg from "pg";
import { ANONYMOUS_ROLE } from "../db/roles.ts";
import type { Logger } from "../logger.ts";

/** The smallest transparent 1×1 GIF. */
export const TRANSPARENT_GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{32}$/;

/**
 * One round trip, one short transaction: the statement text carries escaped literals because the
 * simple query protocol (needed for several statements) takes no parameters; the token is also
 * format-checked before it gets here.
 */
async function recordOpen(pool: pg.Pool, token: string, ip: string | undefined, userAgent: string | undefined) {
  const literal = (value: string | undefined) => (value === undefined ? "null" : pg.escapeLiteral(value));
  await pool.query(
    `begin; set local role ${ANONYMOUS_ROLE};
     select app_hidden.record_open(${literal(token)}, ${literal(ip)}::inet, ${literal(userAgent?.slice(0, 1000))});
     commit;`,
  );
}

export function trackingPixel(pool: pg.Pool, logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const token = String(req.params.token ?? "");
    if (TOKEN_FORMAT.test(token)) {
      try {
        await recordOpen(pool, token, req.ip?.replace(/^::ffff:/, ""), req.get("user-agent"));
      } catch (error) {
        // The recipient's mail client must still get its image; the failure is ours to see.
        logger.warn({ err: error }, "could not record a pixel open");
      }
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
