// One JSON line per request: method, path, status, duration, GraphQL operation name,
// organisation, user, request id, and the refusal code when the request was refused. Never the
// Authorization header, the query string, the variables or the body.
import { randomUUID } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { runWithRequestLogger, type Logger } from "../logger.ts";

/** An incoming X-Request-Id is kept when it looks like an id (a proxy's); otherwise a new UUID. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The pixel's path holds a tracking token: logged as its route, not the token. */
function loggedPath(path: string): string {
  return path.startsWith("/t/") ? "/t/:token.gif" : path;
}

/**
 * The access log, and the request's logger kept for the rest of the request (masked errors log with
 * its reqId). The request's logger is made only when something logs through it: a child logger
 * serialises (and redacts) its bindings when it is made, which most requests never need.
 */
export function accessLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers["x-request-id"];
    const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader("X-Request-Id", id);
    let child: Logger | undefined;
    const requestLog = () => (child ??= logger.child({ reqId: id }));
    Object.defineProperty(req, "log", { get: requestLog, configurable: true, enumerable: false });
    let logged = false;
    const write = (aborted: boolean) => {
      if (logged) return;
      logged = true;
      const failed = aborted || res.statusCode >= 500;
      const level = failed ? "error" : "info";
      if (!logger.isLevelEnabled(level)) return;
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      logger[level](
        { reqId: id, ...accessFields(req, res, { responseTime: Math.round(durationMs) }) },
        aborted ? "request aborted" : failed ? "request failed" : "request",
      );
    };
    res.once("finish", () => write(false));
    res.once("close", () => write(!res.writableFinished));
    runWithRequestLogger(requestLog, next);
  };
}

function accessFields(req: Request, res: Response, value: { responseTime?: number }) {
  const authentication = req.prospectflowAuthentication;
  const member = authentication?.kind === "member" ? authentication : undefined;
  const refusal = res.locals.refusalCode as string | undefined;
  return {
    method: req.method,
    path: loggedPath(((req as { originalUrl?: string }).originalUrl ?? req.url).split("?")[0] ?? ""),
    status: res.statusCode,
    durationMs: value.responseTime,
    ...(req.prospectflowOperationName ? { operationName: req.prospectflowOperationName } : {}),
    ...(member ? { organisationId: member.organisationId, userId: member.userId } : {}),
    ...(req.prospectflowRefusal ? { code: req.prospectflowRefusal.code } : refusal ? { code: refusal } : {}),
    clientAddress: req.ip,
  };
}
