// The HTTP surface: /graphql (bearer tokens verified first), GraphiQL in development, health checks;
// around all of it the access log, helmet's security headers and CORS for the allowed origins.
import { createServer, type Server } from "node:http";
import cors from "cors";
import express, { type NextFunction, type Request, type RequestHandler, type Response } from "express";
import helmet from "helmet";
import type pg from "pg";
import type { PostGraphileInstance } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/express/v4";
import { authenticateRequests } from "../auth/request-authentication.ts";
import type { TrustProxy } from "../config.ts";
import type { Logger } from "../logger.ts";
import { countRequests, metricsEndpoint } from "../metrics/http.ts";
import { createMetrics, type Metrics } from "../metrics/metrics.ts";
import { checkReadiness, type ReadinessCheck } from "../ops/readiness.ts";
import { accessLog } from "./access-log.ts";
import { trackingPixel } from "./tracking-pixel.ts";
import { requestLogger } from "../logger.ts";

export interface HttpServerOptions {
  pgl: PostGraphileInstance;
  authenticatorPool: pg.Pool;
  tokens: { jwtSecret: string; lifetimeSeconds: number };
  /** Who may call from a browser, which proxies to believe; defaults: nobody, none. */
  edge?: {
    trustProxy: TrustProxy;
    corsOrigins: string[];
    graphiql: boolean;
    /** Middleware of other concerns for /graphql, after authentication (the throttle's early refusal). */
    beforeGraphql?: RequestHandler[];
  };
  logger: Logger;
  /** What /readyz checks: the server's pool and the committed migrations this build ships. */
  readiness: ReadinessCheck;
  /** Counts every response; `servedHere` adds GET /metrics to this port (with `token`, bearer-protected). */
  metrics?: { metrics: Metrics; servedHere: boolean; token: string | undefined };
  /** The tracking pixel transaction's statement timeout (default 2 s). */
  pixelStatementTimeoutMs?: number;
}

const GRAPHIQL_PATHS = ["/graphiql", "/ruru-static/"];

/** Every response: helmet's defaults, with a CSP that allows nothing (the API serves JSON and a GIF). */
const apiHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
});

/** The pixel is loaded cross-origin by mail clients: helmet's same-origin CORP would block it. */
const pixelHeaders = helmet({
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"] } },
  crossOriginResourcePolicy: { policy: "cross-origin" },
});

/**
 * Ruru (GraphiQL), served only when GRAPHIQL is on (development by default): its page bootstraps
 * with inline scripts and styles, runs Monaco's workers from its static folder and calls /graphql
 * on the same origin; nothing else is allowed.
 */
const ruruHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'", "'unsafe-inline'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      workerSrc: ["'self'", "blob:"],
      imgSrc: ["'self'", "data:"],
      fontSrc: ["'self'", "data:"],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
    },
  },
});

function securityHeaders(graphiql: boolean) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (graphiql && GRAPHIQL_PATHS.some((path) => req.path.startsWith(path))) return ruruHeaders(req, res, next);
    if (req.path.startsWith("/t/")) return pixelHeaders(req, res, next);
    return apiHeaders(req, res, next);
  };
}

/** CORS for /graphql: the allow-list only; a preflight from any other origin is refused with 403. */
function corsFor(origins: string[], logger: Logger) {
  const allowed = new Set(origins);
  const answer = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ["GET", "POST"],
    allowedHeaders: ["Authorization", "Content-Type", "Accept", "X-Request-Id"],
    exposedHeaders: ["Retry-After", "X-Request-Id"],
    maxAge: 600,
  });
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.get("origin");
    const preflight = req.method === "OPTIONS" && req.get("access-control-request-method") !== undefined;
    if (preflight && (origin === undefined || !allowed.has(origin))) {
      res.locals.refusalCode = "CORS_ORIGIN_REFUSED";
      requestLogger(req, logger).info({ code: "CORS_ORIGIN_REFUSED", origin }, "CORS preflight refused");
      res.status(403).json({
        errors: [
          {
            message: "This origin may not call the API from a browser (not in CORS_ORIGINS).",
            extensions: { code: "CORS_ORIGIN_REFUSED" },
          },
        ],
      });
      return;
    }
    answer(req, res, next);
  };
}

/**
 * GraphQL over HTTP says a client that accepts anything (`*\/*`) or sends no Accept should get
 * application/json; grafserv would pick application/graphql-response+json.
 */
function preferJsonForAnyAccept(req: Request, _res: Response, next: NextFunction) {
  const accept = req.headers.accept?.trim();
  if (accept === undefined || accept === "" || accept === "*/*") req.headers.accept = "application/json";
  next();
}

export async function createHttpServer(options: HttpServerOptions): Promise<Server> {
  const { pgl, authenticatorPool, tokens, logger } = options;
  const edge = options.edge ?? { trustProxy: false, corsOrigins: [], graphiql: false };
  const metrics = options.metrics ?? { metrics: createMetrics(), servedHere: false, token: undefined };
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", edge.trustProxy);

  app.use(countRequests(metrics.metrics));
  app.use(accessLog(logger));
  app.use(securityHeaders(edge.graphiql));

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  // 200 when the database answers and has every committed migration; 503 otherwise (JSON says why).
  app.get("/readyz", async (_req, res) => {
    const report = await checkReadiness(options.readiness);
    res.status(report.status === "ready" ? 200 : 503).json(report);
  });

  if (metrics.servedHere) app.get("/metrics", metricsEndpoint(metrics.metrics, metrics.token));
  // Development: the root opens GraphiQL.
  if (edge.graphiql) app.get("/", (_req, res) => res.redirect(302, "/graphiql"));

  app.get(
    "/t/:token.gif",
    trackingPixel({
      pool: authenticatorPool,
      logger,
      metrics: metrics.metrics,
      statementTimeoutMs: options.pixelStatementTimeoutMs ?? 2_000,
    }),
  );

  app.use("/graphql", corsFor(edge.corsOrigins, logger));
  app.use("/graphql", preferJsonForAnyAccept);
  app.use("/graphql", authenticateRequests(tokens, logger));
  for (const middleware of edge.beforeGraphql ?? []) app.use("/graphql", middleware);

  const server = createServer(app);
  const serv = pgl.createServ(grafserv);
  await serv.addTo(app, server);

  app.use((_req, res) => {
    res.status(404).json({ errors: [{ message: "Not found", extensions: { code: "NOT_FOUND" } }] });
  });
  // Anything that escapes a handler: logged in full here, never sent to the client.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    requestLogger(req, logger).error({ err: error }, "unhandled HTTP error");
    const status = (error as { status?: number }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      res.status(status).json({ errors: [{ message: "Bad request", extensions: { code: "INVALID_INPUT" } }] });
      return;
    }
    res.status(500).json({ errors: [{ message: "Internal error", extensions: { code: "INTERNAL_SERVER_ERROR" } }] });
  });
  return server;
}
