// The HTTP side of the metrics: a middleware counting every response (and the error codes of
// JSON error bodies, so any refusal written with res.json is counted without its author calling
// us), the GET /metrics handler with its optional bearer token, and the separate listener.
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { NextFunction, Request, Response } from "express";
import type { Metrics } from "./metrics.ts";

/** The route label of a path: a fixed set, so that random paths never become label values. */
export function routeLabel(path: string): string {
  if (path === "/graphql" || path === "/graphiql" || path === "/healthz" || path === "/readyz" || path === "/metrics") {
    return path;
  }
  if (path.startsWith("/t/")) return "/t/:token.gif";
  return "other";
}

interface ErrorBody {
  errors?: Array<{ extensions?: { code?: unknown } }>;
}

/** Counts every response by route, method and status; counts the codes of JSON error bodies as refusals. */
export function countRequests(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    let codes: string[] = [];
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const errors = (body as ErrorBody | null)?.errors;
      if (Array.isArray(errors)) {
        codes = errors.map((e) => (typeof e.extensions?.code === "string" ? e.extensions.code : "UNKNOWN"));
      }
      return json(body);
    };
    res.once("finish", () => {
      // originalUrl, not path: inside a mounted middleware (app.use("/graphql", …)) path is relative.
      const route = routeLabel(req.originalUrl.split("?")[0] ?? "");
      metrics.httpRequest(route, req.method, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
      for (const code of codes) metrics.refusal(code);
      // GraphQL responses are counted by the grafserv plugin, which reads their error codes.
      if (codes.length === 0 && res.statusCode >= 400 && route !== "/graphql")
        metrics.refusal(`HTTP_${res.statusCode}`);
    });
    next();
  };
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** GET /metrics: the exposition text; with a token, only for `Authorization: Bearer <token>`. */
export function metricsEndpoint(metrics: Metrics, token: string | undefined) {
  return async (req: Request, res: Response): Promise<void> => {
    if (token !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get("authorization") ?? "");
      if (!match?.[1] || !sameSecret(match[1], token)) {
        res
          .status(401)
          .set("WWW-Authenticate", 'Bearer realm="metrics"')
          .json({
            errors: [
              { message: "Metrics need the METRICS_TOKEN bearer token.", extensions: { code: "UNAUTHENTICATED" } },
            ],
          });
        return;
      }
    }
    const { contentType, body } = await metrics.render();
    res.status(200).set({ "Content-Type": contentType, "Cache-Control": "no-store" }).end(body);
  };
}

/** A listener that serves only GET /metrics (METRICS_PORT), typically bound to a private interface. */
export async function startMetricsServer(
  metrics: Metrics,
  options: { host: string; port: number; token: string | undefined },
): Promise<{ server: Server; url: string }> {
  const { default: express } = await import("express");
  const app = express();
  app.disable("x-powered-by");
  app.get("/metrics", metricsEndpoint(metrics, options.token));
  app.use((_req, res) => {
    res.status(404).json({ errors: [{ message: "Not found", extensions: { code: "NOT_FOUND" } }] });
  });
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return { server, url: `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}` };
}
