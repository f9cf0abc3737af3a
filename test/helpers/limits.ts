// Documents and servers the limits and trusted-documents tests share: the fragment and
// alias bombs, a server whose log lines a test can read, a tenant shaped like the fan-out.
import { Writable } from "node:stream";
import type pg from "pg";
import { pino } from "pino";
import { loadConfig } from "../../src/config.ts";
import { startServer, type RunningServer } from "../../src/server.ts";
import { testDatabase } from "./database.ts";
import { TEST_JWT_SECRET } from "./http-server.ts";

/** Fragments nested `deep` levels, each spreading `wide` aliased positions → company → next fragment. */
export function fragmentBomb(wide: number, deep: number, salt = "x"): string {
  const fragments: string[] = [];
  for (let level = 0; level < deep; level++) {
    const next = level + 1 < deep ? ` ...F${level + 1}` : " name";
    const fields = Array.from(
      { length: wide },
      (_, index) => `${salt}${index}: positions(first: 1) { nodes { company {${next} } } }`,
    ).join(" ");
    fragments.push(`fragment F${level} on Company { ${fields} }`);
  }
  return `query { companies(first: 1) { nodes { ...F0 } } }\n${fragments.join("\n")}`;
}

/** `count` aliases of `people { nodes { id } }`. */
export function aliasBomb(count: number): string {
  return `{ ${Array.from({ length: count }, (_, index) => `a${index}: people { nodes { id } }`).join(" ")} }`;
}

/** companies → positions(first: n) → company → positions(first: n) → … `levels` times (the fan-out). */
export function fanOut(page: number | string, levels = 3): string {
  let inner = "id";
  for (let level = 0; level < levels; level++) {
    inner = `positions(first: ${page}) { nodes { jobTitle company { name ${inner === "id" ? "" : inner} } } }`;
  }
  return `query Fanout${typeof page === "string" ? "($n: Int)" : ""} { companies { nodes { name ${inner} } } }`;
}

/** One company, 100 people, each with a position at it: the tenant of the fan-out. */
export async function seedFanOutTenant(owner: pg.Pool, organisationId: string, people = 100): Promise<void> {
  const { rows } = await owner.query<{ id: string }>(
    "insert into crm.companies (organisation_id, name) values ($1, 'Fan-out company') returning id",
    [organisationId],
  );
  await owner.query(
    `with people as (
       insert into crm.people (organisation_id, first_name, email)
       select $1::uuid, 'Person ' || n, 'fan' || n || '.' || $1::text || '@example.test' from generate_series(1, $3::int) n
       returning id)
     insert into crm.positions (organisation_id, person_id, company_id, job_title)
     select $1::uuid, id, $2::uuid, 'Engineer with a reasonably long job title' from people`,
    [organisationId, rows[0]!.id, people],
  );
}

export interface LoggedServer {
  server: RunningServer;
  /** The JSON log lines written so far. */
  lines(): Array<Record<string, unknown>>;
}

/** The real server in-process (as startTestServer), with its log lines kept for the test to read. */
export async function startLoggedServer(environment: Record<string, string> = {}): Promise<LoggedServer> {
  const { urls } = testDatabase();
  const written: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written.push(
        ...chunk
          .toString()
          .split("\n")
          .filter((line) => line !== ""),
      );
      callback();
    },
  });
  const config = loadConfig({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "warn",
    DEMO_DATA: "off",
    JWT_SECRET: TEST_JWT_SECRET,
    ROOT_DATABASE_URL: urls.rootUrl,
    DATABASE_URL: urls.ownerUrl,
    AUTH_DATABASE_URL: urls.authenticatorUrl,
    ...environment,
  });
  const server = await startServer(config, pino({ level: "warn" }, stream), { watchSchema: false });
  return { server, lines: () => written.map((line) => JSON.parse(line) as Record<string, unknown>) };
}
