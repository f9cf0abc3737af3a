// Express middleware that verifies the bearer token before GraphQL runs, and the mapping from
// the verified identity to the transaction settings PostGraphile applies (set_config(..., true)).
import type { NextFunction, Request, Response } from "express";
import { ANONYMOUS_ROLE, VISITOR_ROLE } from "../db/roles.ts";
import type { Logger } from "../logger.ts";
import { verifyToken, type TokenClaims } from "./jwt.ts";
import { requestLogger } from "../logger.ts";

export type RequestAuthentication = { kind: "anonymous" } | ({ kind: "member" } & TokenClaims);

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by authenticateRequests; read by the GraphQL context. */
      prospectflowAuthentication?: RequestAuthentication;
    }
  }
}

/** Answers 401 with a JSON error for any bad token; no token means the anonymous role. */
export function authenticateRequests(tokens: { jwtSecret: string; lifetimeSeconds: number }, logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.get("authorization");
    if (header === undefined || header.trim() === "") {
      req.prospectflowAuthentication = { kind: "anonymous" };
      next();
      return;
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) {
      requestLogger(req, logger).info({ code: "UNAUTHENTICATED", reason: "malformed" }, "token refused");
      rejectRequest(res, "malformed", "The Authorization header must be `Bearer <token>`.");
      return;
    }
    const result = verifyToken(match[1], tokens.jwtSecret, { lifetimeSeconds: tokens.lifetimeSeconds });
    if (!result.ok) {
      requestLogger(req, logger).info({ code: "UNAUTHENTICATED", reason: result.reason }, "token refused");
      rejectRequest(res, result.reason, result.message);
      return;
    }
    req.prospectflowAuthentication = { kind: "member", ...result.claims };
    next();
  };
}

function rejectRequest(res: Response, reason: string, message: string): void {
  res.locals.refusalCode = "UNAUTHENTICATED";
  res
    .status(401)
    .set("WWW-Authenticate", 'Bearer error="invalid_token"')
    .json({ errors: [{ message, extensions: { code: "UNAUTHENTICATED", reason } }] });
}

/** The PostgreSQL settings for one request's transaction. */
export function pgSettingsFor(
  authentication: RequestAuthentication | undefined,
  statementTimeoutMs: number,
): Record<string, string> {
  const common = { statement_timeout: String(statementTimeoutMs) };
  if (authentication?.kind !== "member") return { ...common, role: ANONYMOUS_ROLE };
  return {
    ...common,
    role: VISITOR_ROLE,
    "app.organisation_id": authentication.organisationId,
    "app.user_id": authentication.userId,
    "app.session_id": authentication.sessionId,
  };
}
