// The HTTP surface: /graphql (bearer tokens verified first), GraphiQL in development, health checks.
import { createServer, type Server } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import type pg from "pg";
import type { PostGraphileInstance } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/express/v4";
import { authenticateRequests } from "../auth/request-authentication.ts";
import type { Logger } from "../logger.ts";
import { checkReadiness, type ReadinessCheck } from "../ops/readiness.ts";
import { trackingPixel } from "./tracking-pixel.ts";

export interface HttpServerOptions {
  pgl: PostGraphileInstance;
  authenticatorPool: pg.Pool;
  jwtSecret: string;
  logger: Logger;
  /** What /readyz checks: the server's pool and the committed migrations this build ships. */
  readiness: ReadinessCheck;
  /** GraphiQL is served: `/` redirects to it. */
  graphiql?: boolean;
}

export async function createHttpServer(options: HttpServerOptions): Promise<Server> {
  const { pgl, authenticatorPool, jwtSecret, logger } = options;
  const app = express();
  app.disable("x-powered-by");

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  // 200 when the database answers and has every committed migration; 503 otherwise (JSON says why).
  app.get("/readyz", async (_req, res) => {
    const report = await checkReadiness(options.readiness);
    res.status(report.status === "ready" ? 200 : 503).json(report);
  });

  app.get("/t/:token.gif", trackingPixel(authenticatorPool, logger));
  // Development: the root opens GraphiQL.
  if (options.graphiql) app.get("/", (_req, res) => res.redirect(302, "/graphiql"));

  app.use("/graphql", authenticateRequests(jwtSecret));

  const server = createServer(app);
  const serv = pgl.createServ(grafserv);
  await serv.addTo(app, server);

  app.use((_req, res) => {
    res.status(404).json({ errors: [{ message: "Not found", extensions: { code: "NOT_FOUND" } }] });
  });
  // Anything that escapes a handler: logged in full here, never sent to the client.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error }, "unhandled HTTP error");
    const status = (error as { status?: number }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      res.status(status).json({ errors: [{ message: "Bad request", extensions: { code: "INVALID_INPUT" } }] });
      return;
    }
    res.status(500).json({ errors: [{ message: "Internal error", extensions: { code: "INTERNAL_SERVER_ERROR" } }] });
  });
  return server;
}
