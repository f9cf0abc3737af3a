// GET /metrics: Prometheus text from the real server, counting HTTP responses by route and status,
// GraphQL operations by name and outcome, refusals by code (GraphQL and HTTP error bodies alike),
// pixel opens, pool connections and event-loop lag; open in development, behind METRICS_TOKEN or
// on METRICS_PORT, and off the public port by default in production.
import { memberToken } from "./helpers/tokens.ts";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { MAX_OPERATION_NAMES } from "../src/metrics/metrics.ts";
import type { RunningServer } from "../src/server.ts";
import { createOrganisation, ownerPool } from "./helpers/database.ts";
import { graphql, startTestServer } from "./helpers/http-server.ts";

const owner = ownerPool();
const METRICS_TOKEN = "metrics-token-for-tests-0123456789";
let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
  await owner.end();
});

async function scrape(url: string, token?: string): Promise<{ status: number; text: string; type: string | null }> {
  const response = await fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: response.status, text: await response.text(), type: response.headers.get("content-type") };
}

/** The value of one sample, e.g. value(text, 'prospectflow_refusals_total{code="NOT_FOUND"}'); 0 when absent. */
function value(text: string, sample: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

describe("in development and tests", () => {
  it("counts requests, operations, refusals and pool connections, in Prometheus format", async () => {
    const org = await createOrganisation(owner, "metrics");
    const token = memberToken(org, "member");
    const before = (await scrape(server.url)).text;
    await graphql(server, "query PeoplePage { people(first: 1) { nodes { id } } }", { token });
    await graphql(server, "query Broken { nothingHere }", { token });
    await graphql(server, "{ people { nodes { id } } }", { authorization: "Bearer not-a-token" });
    await fetch(`${server.url}/nowhere`);
    const { status, text, type } = await scrape(server.url);
    expect(status).toBe(200);
    expect(type).toContain("text/plain");
    const delta = (sample: string) => value(text, sample) - value(before, sample);
    expect(delta('prospectflow_graphql_operations_total{operation="PeoplePage",outcome="ok"}')).toBe(1);
    // A document refused before it runs is not labelled by the name its client chose.
    expect(
      delta('prospectflow_graphql_operations_total{operation="refused",outcome="GRAPHQL_VALIDATION_FAILED"}'),
    ).toBe(1);
    expect(text).not.toContain('operation="Broken"');
    expect(delta('prospectflow_refusals_total{code="GRAPHQL_VALIDATION_FAILED"}')).toBe(1);
    // Refused before GraphQL ran (HTTP 401 with a JSON error body) and a 404: counted all the same.
    expect(delta('prospectflow_refusals_total{code="UNAUTHENTICATED"}')).toBe(1);
    expect(delta('prospectflow_refusals_total{code="NOT_FOUND"}')).toBe(1);
    expect(delta('prospectflow_http_requests_total{route="/graphql",method="POST",status="200"}')).toBe(2);
    expect(delta('prospectflow_http_requests_total{route="/graphql",method="POST",status="401"}')).toBe(1);
    expect(delta('prospectflow_http_requests_total{route="other",method="GET",status="404"}')).toBe(1);
    expect(
      value(text, 'prospectflow_graphql_operation_duration_seconds_count{operation="PeoplePage"}'),
    ).toBeGreaterThan(0);
    expect(
      value(text, 'prospectflow_http_request_duration_seconds_bucket{le="+Inf",route="/graphql"}'),
    ).toBeGreaterThan(0);
    expect(text).toMatch(/^prospectflow_db_pool_connections\{pool="primary",state="in_use"\} \d+$/m);
    expect(text).toMatch(/^prospectflow_db_pool_connections\{pool="primary",state="waiting"\} \d+$/m);
    expect(text).toMatch(/^prospectflow_nodejs_eventloop_lag_seconds \d/m);
  });

  it("counts pixel opens by outcome", async () => {
    const before = (await scrape(server.url)).text;
    await fetch(`${server.url}/t/${"a".repeat(32)}.gif`); // unknown token
    await fetch(`${server.url}/t/${"a".repeat(32)}.gif`, { method: "HEAD" });
    const { text } = await scrape(server.url);
    expect(value(text, 'prospectflow_pixel_opens_total{outcome="ignored"}')).toBe(
      value(before, 'prospectflow_pixel_opens_total{outcome="ignored"}') + 1,
    );
    expect(value(text, 'prospectflow_pixel_opens_total{outcome="not_get"}')).toBe(
      value(before, 'prospectflow_pixel_opens_total{outcome="not_get"}') + 1,
    );
  });

  it("bounds operation names: random names beyond the limit count as other", async () => {
    const requests = Array.from({ length: MAX_OPERATION_NAMES + 20 }, (_, i) => `query Random${i} { __typename }`);
    for (let i = 0; i < requests.length; i += 20) {
      await Promise.all(requests.slice(i, i + 20).map((query) => graphql(server, query)));
    }
    await graphql(server, "query Bad { __typename }", { variables: {} });
    const { text } = await scrape(server.url);
    const names = new Set(
      [...text.matchAll(/prospectflow_graphql_operations_total\{operation="([^"]+)"/g)].map((m) => m[1]),
    );
    expect(names.size).toBeLessThanOrEqual(MAX_OPERATION_NAMES + 3); // + anonymous, invalid, other
    expect(value(text, 'prospectflow_graphql_operations_total{operation="other",outcome="ok"}')).toBeGreaterThan(0);
  });
});

it("the Grafana dashboard and the documented queries use only metrics the server exposes", async () => {
  const { text } = await scrape(server.url);
  const exposed = new Set([...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].map((m) => m[1]));
  /** The "## Metrics" section of a Markdown file. */
  const section = (file: string) => {
    const markdown = readFileSync(path.join(projectRoot, file), "utf8");
    const start = markdown.indexOf("\n## Metrics\n");
    return markdown.slice(start, markdown.indexOf("\n## ", start + 5));
  };
  const documents = [
    readFileSync(path.join(projectRoot, "docs/grafana-dashboard.json"), "utf8"),
    section("docs/OPERATIONS.md"),
    section("README.md"),
  ].join("\n");
  const used = new Set([...documents.matchAll(/\bprospectflow_[a-z0-9_]+/g)].map((m) => m[0]));
  expect(used.size).toBeGreaterThan(8);
  for (const name of used) {
    const base = name.replace(/_(bucket|sum|count)$/, "");
    expect(exposed.has(name) || exposed.has(base), name).toBe(true);
  }
});

describe("protection", () => {
  it("with METRICS_TOKEN, /metrics needs the bearer token; with it, it answers", async () => {
    const protectedServer = await startTestServer({ METRICS_TOKEN });
    try {
      expect((await scrape(protectedServer.url)).status).toBe(401);
      expect((await scrape(protectedServer.url, "wrong-token-of-some-length")).status).toBe(401);
      const allowed = await scrape(protectedServer.url, METRICS_TOKEN);
      expect(allowed.status).toBe(200);
      expect(allowed.text).toContain("prospectflow_http_requests_total");
    } finally {
      await protectedServer.close();
    }
  });

  it("in production, /metrics is off the public port unless configured; METRICS_PORT serves it apart", async () => {
    const production = await startTestServer({ NODE_ENV: "production", MIGRATE_ON_START: "false" });
    try {
      expect((await scrape(production.url)).status).toBe(404);
      expect(production.metricsUrl).toBeUndefined();
    } finally {
      await production.close();
    }
    const separate = await startTestServer({ NODE_ENV: "production", MIGRATE_ON_START: "false", METRICS_PORT: "0" });
    try {
      expect((await scrape(separate.url)).status).toBe(404);
      const scraped = await scrape(separate.metricsUrl!);
      expect(scraped.status).toBe(200);
      expect(scraped.text).toContain("prospectflow_db_pool_connections");
    } finally {
      await separate.close();
    }
  });

  it("refuses a METRICS_TOKEN too short to be a secret", async () => {
    await expect(startTestServer({ METRICS_TOKEN: "short" })).rejects.toThrow(
      /METRICS_TOKEN must be at least 16 bytes/,
    );
  });
});
