// Starts the real server in-process (the same startServer as `npm start`) against any database a
// test prepared: its own scratch database, a database behind PgBouncer, one that will be stopped.
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { startServer, type RunningServer } from "../../src/server.ts";
import { TEST_JWT_SECRET } from "./http-server.ts";

export interface ServerDatabaseUrls {
  rootUrl?: string;
  ownerUrl?: string;
  authenticatorUrl: string;
}

export function serverConfigFor(urls: ServerDatabaseUrls, environment: Record<string, string> = {}) {
  return loadConfig({
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
}

export async function startServerFor(
  urls: ServerDatabaseUrls,
  environment: Record<string, string> = {},
): Promise<RunningServer> {
  return startServer(serverConfigFor(urls, environment), createLogger("silent"), { watchSchema: false });
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
