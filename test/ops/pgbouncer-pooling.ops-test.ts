// Pooling through the real PgBouncer in transaction mode, configured by the same script as the
// compose stack: the server (a real process, MIGRATE_ON_START=false, only AUTH_DATABASE_URL)
// answers hundreds of concurrent GraphQL reads and writes for several organisations over at
// most four server connections, and no response or write ever crosses organisations.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withDatabase } from "../../src/db/connection-urls.ts";
import { createOrganisation, testDatabase, type TestOrganisation } from "../helpers/database.ts";
import { TEST_JWT_SECRET } from "../helpers/http-server.ts";
import { startPgBouncer, type RunningPgBouncer } from "../helpers/pgbouncer.ts";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.ts";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.ts";
import { memberToken } from "../helpers/tokens.ts";

const SERVER_CONNECTIONS = 4;
const API_POOL = 20;
const ORGANISATIONS = 8;
const REQUESTS = 400;
const CONCURRENCY = 64;

interface Tenant {
  organisation: TestOrganisation;
  token: string;
  seeded: number;
}

let scratch: ScratchDatabase;
let bouncer: RunningPgBouncer;
let server: ServerProcess;
let tenants: Tenant[];
let root: pg.Pool;

beforeAll(async () => {
  const serverRootUrl = testDatabase().serverRootUrl;
  scratch = await createScratchDatabase(serverRootUrl, "pool");
  root = new pg.Pool({ connectionString: withDatabase(serverRootUrl, scratch.name), max: 2 });
  const owner = new pg.Pool({ connectionString: scratch.urls.ownerUrl, max: 2 });
  try {
    tenants = [];
    for (let i = 0; i < ORGANISATIONS; i++) {
      const organisation = await createOrganisation(owner, `pool${i}`);
      const seeded = 3 + i;
      for (let p = 0; p < seeded; p++) {
        await owner.query("insert into crm.people (organisation_id, first_name, email) values ($1, $2, $3)", [
          organisation.id,
          `Seed ${p}`,
          `seed${p}.${organisation.slug}@example.test`,
        ]);
      }
      const token = memberToken(organisation, "member", 600);
      tenants.push({ organisation, token, seeded });
    }
  } finally {
    await owner.end();
  }
  const postgres = new URL(serverRootUrl);
  bouncer = await startPgBouncer({
    database: scratch.name,
    authUser: scratch.authenticatorRole,
    authPassword: scratch.password,
    postgresHost: postgres.hostname,
    postgresPort: Number(postgres.port || 5432),
    maxServerConnections: SERVER_CONNECTIONS,
  });
  server = await startServerProcess({
    AUTH_DATABASE_URL: bouncer.urlFor(scratch.authenticatorRole, scratch.password),
    MIGRATE_ON_START: "false",
    JWT_SECRET: TEST_JWT_SECRET,
    DATABASE_POOL_MAX: String(API_POOL),
    // As in docker-compose.yaml: PgBouncer 1.18 in transaction mode cannot keep named prepared statements.
    DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE: "0",
  });
});

afterAll(async () => {
  await server?.terminate();
  await bouncer?.stop();
  await root?.end();
  await scratch?.drop();
});

async function graphql(token: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response shapes vary per query
    body: (await response.json()) as { data?: any; errors?: Array<{ message: string }> },
  };
}

/** PgBouncer's own view of the pool (the authenticator is a stats user in the rendered config). */
async function poolStatus(): Promise<{ clients: number; servers: number }> {
  const console = new pg.Client({
    connectionString: bouncer.urlFor(scratch.authenticatorRole, scratch.password).replace(/\/[^/]+$/, "/pgbouncer"),
  });
  await console.connect();
  try {
    const { rows } = await console.query({ text: "SHOW POOLS", queryMode: "simple" } as pg.QueryConfig);
    const pool = rows.find((row) => row.database === scratch.name) ?? {};
    const number = (name: string) => Number(pool[name] ?? 0);
    return {
      clients: number("cl_active") + number("cl_waiting"),
      servers: number("sv_active") + number("sv_idle") + number("sv_used") + number("sv_tested") + number("sv_login"),
    };
  } finally {
    await console.end();
  }
}

async function serverConnections(): Promise<number> {
  const { rows } = await root.query<{ count: number }>(
    "select count(*)::int as count from pg_stat_activity where datname = $1 and usename = $2",
    [scratch.name, scratch.authenticatorRole],
  );
  return rows[0]!.count;
}

describe("PgBouncer in transaction mode", () => {
  it("renders the configuration a deployment gets: transaction pooling, a cap on server connections", () => {
    expect(bouncer.config).toMatch(/^pool_mode = transaction$/m);
    expect(bouncer.config).toMatch(new RegExp(`^max_db_connections = ${SERVER_CONNECTIONS}$`, "m"));
    expect(bouncer.config).toMatch(new RegExp(`^default_pool_size = ${SERVER_CONNECTIONS}$`, "m"));
  });

  it("shares server connections between clients: a session-level setting leaks to the next client", async () => {
    // The control experiment: this is why the API only ever uses set_config(..., true).
    const url = bouncer.urlFor(scratch.authenticatorRole, scratch.password);
    const marker = randomUUID();
    const first = new pg.Client({ connectionString: url });
    await first.connect();
    await first.query("select set_config('app.leak_probe', $1, false)", [marker]);
    await first.end();
    let seen = 0;
    for (let i = 0; i < 10; i++) {
      const next = new pg.Client({ connectionString: url });
      await next.connect();
      const { rows } = await next.query("select current_setting('app.leak_probe', true) as value");
      if (rows[0].value === marker) seen++;
      await next.end();
    }
    expect(seen).toBeGreaterThan(0);
  });

  it("serves hundreds of concurrent requests for many organisations over few server connections, never mixing them", async () => {
    const created = new Map<string, number>();
    const observed = { servers: 0, bouncerServers: 0, bouncerClients: 0 };
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        const [servers, status] = await Promise.all([serverConnections(), poolStatus()]);
        observed.servers = Math.max(observed.servers, servers);
        observed.bouncerServers = Math.max(observed.bouncerServers, status.servers);
        observed.bouncerClients = Math.max(observed.bouncerClients, status.clients);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const failures: string[] = [];
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < REQUESTS) {
        const index = next++;
        const tenant = tenants[index % tenants.length]!;
        const { organisation } = tenant;
        if (index % 5 === 4) {
          const email = `w${index}.${organisation.slug}@example.test`;
          const { status, body } = await graphql(
            tenant.token,
            'mutation($email: String!) { createPerson(input: { person: { firstName: "W", email: $email } }) { person { organisationId email } } }',
            { email },
          );
          const person = body.data?.createPerson?.person;
          if (status !== 200 || body.errors || person?.organisationId !== organisation.id || person?.email !== email) {
            failures.push(`write ${index} for ${organisation.slug}: ${JSON.stringify(body)}`);
          }
          created.set(organisation.id, (created.get(organisation.id) ?? 0) + 1);
        } else {
          const { status, body } = await graphql(
            tenant.token,
            "{ people { totalCount nodes { organisationId email } } }",
          );
          const people = body.data?.people;
          const foreign = (people?.nodes ?? []).filter(
            (node: { organisationId: string; email: string }) =>
              node.organisationId !== organisation.id || !node.email.endsWith(`.${organisation.slug}@example.test`),
          );
          if (status !== 200 || body.errors || !people || people.totalCount < tenant.seeded || foreign.length > 0) {
            failures.push(`read ${index} for ${organisation.slug}: ${JSON.stringify(body).slice(0, 300)}`);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsedMs = Math.round(performance.now() - started);
    loading = false;
    await sampler;

    expect(failures).toEqual([]);
    expect(observed.servers).toBeGreaterThan(0);
    expect(observed.servers).toBeLessThanOrEqual(SERVER_CONNECTIONS);
    expect(observed.bouncerServers).toBeLessThanOrEqual(SERVER_CONNECTIONS);
    // More clients than server connections at once: only transaction pooling allows that.
    expect(observed.bouncerClients).toBeGreaterThan(SERVER_CONNECTIONS);

    // Every write landed in its own organisation, and only there.
    const { rows } = await root.query<{ organisation_id: string; count: number }>(
      "select organisation_id, count(*)::int as count from crm.people group by organisation_id",
    );
    for (const tenant of tenants) {
      const count = rows.find((row) => row.organisation_id === tenant.organisation.id)?.count;
      expect(count).toBe(tenant.seeded + (created.get(tenant.organisation.id) ?? 0));
    }
    console.info(
      `[pgbouncer] ${REQUESTS} requests (${CONCURRENCY} concurrent, ${ORGANISATIONS} organisations) in ${elapsedMs} ms ` +
        `(${Math.round((REQUESTS / elapsedMs) * 1000)} req/s); at most ${observed.servers} server connections, ` +
        `${observed.bouncerClients} PgBouncer clients`,
    );
  });

  it("answers /readyz through PgBouncer", async () => {
    const response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ready", database: "ok", migrations: "ok" });
  });
});
