// Starts the real server (same code path as `npm start`) against the test database.
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { startServer, type RunningServer } from "../../src/server.ts";
import { testDatabase } from "./database.ts";

export const TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789";

export async function startTestServer(environment: Record<string, string> = {}): Promise<RunningServer> {
  const { urls } = testDatabase();
  const config = loadConfig({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "silent",
    DEMO_DATA: "off",
    // The throttle's counters are shared through the database by every server of a test run;
    // only the throttling tests turn it on (with addresses of their own, via TRUST_PROXY).
    THROTTLING: "off",
    JWT_SECRET: TEST_JWT_SECRET,
    ROOT_DATABASE_URL: urls.rootUrl,
    DATABASE_URL: urls.ownerUrl,
    AUTH_DATABASE_URL: urls.authenticatorUrl,
    ...environment,
  });
  return startServer(config, createLogger("silent"), { watchSchema: false });
}

export interface GraphQLResponse {
  status: number;
  body: {
    data?: Record<string, any> | null; // eslint-disable-line @typescript-eslint/no-explicit-any -- shapes vary per query
    errors?: Array<{ message: string; extensions?: { code?: string; reason?: string } }>;
  };
  text: string;
}

export async function graphql(
  server: RunningServer,
  query: string,
  options: { variables?: Record<string, unknown>; token?: string; authorization?: string } = {},
): Promise<GraphQLResponse> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  const authorization = options.authorization ?? (options.token ? `Bearer ${options.token}` : undefined);
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), text };
}
