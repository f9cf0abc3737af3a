// The server's Prometheus metrics (prom-client): one registry per running server, and the small
// API other code calls to count what it does (`metrics.refusal(code)`, `metrics.pixelOpen(…)`).
// Label values are bounded here, never taken raw from a client: an attacker sending random
// operation names or paths must not grow the registry.
import type pg from "pg";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** What the pixel endpoint did with one request. */
export type PixelOutcome = "counted" | "duplicate" | "ignored" | "not_get" | "failed";

export interface Metrics {
  readonly registry: Registry;
  /** One HTTP response: `route` is the matched route pattern (or "other"), never the raw path. */
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  /** One GraphQL operation: `outcome` is "ok" or the first error's extensions.code. */
  graphqlOperation(operationName: string | undefined, outcome: string, seconds: number): void;
  /** A request refused or failed with this stable code (GraphQL extensions.code or an HTTP error body's code). */
  refusal(code: string): void;
  pixelOpen(outcome: PixelOutcome): void;
  /** Reports a pool's connections (in use, idle, waiting) at every scrape. */
  observePool(name: string, pool: pg.Pool): void;
  /** The exposition text for GET /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Operation names beyond this many distinct ones are counted as "other". */
export const MAX_OPERATION_NAMES = 200;
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "prospectflow_" });
  const httpRequests = new Counter({
    name: "prospectflow_http_requests_total",
    help: "HTTP responses by route pattern, method and status code.",
    labelNames: ["route", "method", "status"],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: "prospectflow_http_request_duration_seconds",
    help: "Time from request to response finished, by route pattern.",
    labelNames: ["route"],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const operations = new Counter({
    name: "prospectflow_graphql_operations_total",
    help: 'GraphQL operations by operation name and outcome ("ok" or the first error code).',
    labelNames: ["operation", "outcome"],
    registers: [registry],
  });
  const operationDuration = new Histogram({
    name: "prospectflow_graphql_operation_duration_seconds",
    help: "Time grafserv spent on a GraphQL request (parse, validate, plan, execute), by operation name.",
    labelNames: ["operation"],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const refusals = new Counter({
    name: "prospectflow_refusals_total",
    help: "Requests refused or failed, by stable error code (GraphQL errors and HTTP error responses).",
    labelNames: ["code"],
    registers: [registry],
  });
  const pixelOpens = new Counter({
    name: "prospectflow_pixel_opens_total",
    help:
      "Tracking pixel loads by outcome: counted, duplicate (same client within the window), ignored (unknown " +
      "token or unsent message), not_get (HEAD), failed (the database did not record it).",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const pools = new Map<string, pg.Pool>();
  new Gauge({
    name: "prospectflow_db_pool_connections",
    help: "Database pool connections by pool and state (in_use, idle, waiting = requests queued for a connection).",
    labelNames: ["pool", "state"],
    registers: [registry],
    collect() {
      for (const [name, pool] of pools) {
        this.set({ pool: name, state: "in_use" }, pool.totalCount - pool.idleCount);
        this.set({ pool: name, state: "idle" }, pool.idleCount);
        this.set({ pool: name, state: "waiting" }, pool.waitingCount);
      }
    },
  });
  const operationNames = new Set<string>();
  const operationLabel = (name: string | undefined): string => {
    if (name === undefined || name === "") return "anonymous";
    if (!OPERATION_NAME.test(name)) return "invalid";
    if (operationNames.has(name)) return name;
    if (operationNames.size >= MAX_OPERATION_NAMES) return "other";
    operationNames.add(name);
    return name;
  };
  const codeLabel = (code: string) => (CODE.test(code) ? code : "OTHER");

  return {
    registry,
    httpRequest(route, method, status, seconds) {
      httpRequests.inc({ route, method: METHODS.has(method) ? method : "OTHER", status: String(status) });
      httpDuration.observe({ route }, seconds);
    },
    graphqlOperation(operationName, outcome, seconds) {
      const operation = operationLabel(operationName);
      operations.inc({ operation, outcome: outcome === "ok" ? "ok" : codeLabel(outcome) });
      operationDuration.observe({ operation }, seconds);
    },
    refusal(code) {
      refusals.inc({ code: codeLabel(code) });
    },
    pixelOpen(outcome) {
      pixelOpens.inc({ outcome });
    },
    observePool(name, pool) {
      pools.set(name, pool);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
