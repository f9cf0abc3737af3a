// One JSON line per request (pino-http): method, path, status, duration, GraphQL operation name,
// organisation, user, request id, and the refusal code when the request was refused. Never the
// Authorization header, the query string, the variables or the body.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { pinoHttp } from "pino-http";
import { runWithRequestLogger, type Logger } from "../logger.ts";

/** An incoming X-Request-Id is kept when it looks like an id (a proxy's); otherwise a new UUID. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The pixel's path holds a tracking token: logged as its route, not the token. */
function loggedPath(path: string): string {
  return path.startsWith("/t/") ? "/t/:token.gif" : path;
}

/** The access log, and the request's logger kept for the rest of the request (masked errors log with its reqId). */
export function accessLog(logger: Logger) {
  const log = accessLogger(logger);
  return (req: Request, res: Response, next: NextFunction) => {
    log(req, res);
    runWithRequestLogger(req.log, next);
  };
}

function accessLogger(logger: Logger) {
  return pinoHttp<IncomingMessage, ServerResponse>({
    logger,
    quietReqLogger: true,
    quietResLogger: true,
    genReqId(req, res) {
      const incoming = req.headers["x-request-id"];
      const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader("X-Request-Id", id);
      return id;
    },
    customLogLevel(_req, res, error) {
      if (error || res.statusCode >= 500) return "error";
      return "info";
    },
    customSuccessMessage: () => "request",
    customErrorMessage: () => "request failed",
    customSuccessObject: (req, res, value) => accessFields(req as Request, res as Response, value),
    customErrorObject: (req, res, _error, value) => accessFields(req as Request, res as Response, value),
  });
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
