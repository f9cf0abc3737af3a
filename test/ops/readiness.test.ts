// Health and readiness: /healthz says the process is up; /readyz says the database answers and has
// applied every committed migration this build ships (200), or why not (503, JSON). A server that
// does not migrate (MIGRATE_ON_START=false, as in compose) needs no owner URL and refuses to
// serve a database that lacks a migration.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationsFolder } from "../../src/db/migrations.ts";
import { readCommittedMigrations } from "../../src/ops/committed-migrations.ts";
import { DatabaseUnavailableError } from "../../src/ops/database-failures.ts";
import type { RunningServer } from "../../src/server.ts";
import { testDatabase } from "../helpers/database.ts";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.ts";
import { getJson, startServerFor } from "../helpers/server-for-database.ts";

const committed = readCommittedMigrations(migrationsFolder);
const latest = committed.at(-1)!;

let scratch: ScratchDatabase;
let owner: pg.Pool;

beforeAll(async () => {
  scratch = await createScratchDatabase(testDatabase().serverRootUrl, "ready");
  owner = new pg.Pool({ connectionString: scratch.urls.ownerUrl, max: 2, application_name: "readiness-test" });
});

afterAll(async () => {
  await owner.end();
  await scratch.drop();
});

/** Makes the database look as if the latest committed migration was never applied; returns the undo. */
async function forgetLatestMigration(): Promise<() => Promise<void>> {
  const { rows } = await owner.query("delete from graphile_migrate.migrations where hash = $1 returning *", [
    latest.hash,
  ]);
  expect(rows).toHaveLength(1);
  return async () => {
    await owner.query(
      "insert into graphile_migrate.migrations (hash, previous_hash, filename, date) values ($1, $2, $3, $4)",
      [rows[0].hash, rows[0].previous_hash, rows[0].filename, rows[0].date],
    );
  };
}

describe("a server that migrates at start", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServerFor(scratch.urls);
  });

  afterAll(async () => {
    await server.close();
  });

  it("answers /healthz with 200 and /readyz with 200 when every committed migration is applied", async () => {
    expect(await getJson(`${server.url}/healthz`)).toEqual({ status: 200, body: { status: "ok" } });
    expect(await getJson(`${server.url}/readyz`)).toEqual({
      status: 200,
      body: { status: "ready", database: "ok", migrations: "ok" },
    });
  });

  it("answers /readyz with 503 naming a committed migration the database lacks, and 200 again once it is back", async () => {
    const undo = await forgetLatestMigration();
    try {
      const { status, body } = await getJson(`${server.url}/readyz`);
      expect(status).toBe(503);
      expect(body).toMatchObject({
        status: "unavailable",
        database: "ok",
        migrations: "pending",
        pending: [latest.filename],
      });
      expect((await getJson(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await undo();
    }
    expect((await getJson(`${server.url}/readyz`)).status).toBe(200);
  });

  it("answers /readyz with 503 when the authenticator may not read the migration history", async () => {
    await owner.query(`revoke select on graphile_migrate.migrations from ${scratch.authenticatorRole}`);
    try {
      const { status, body } = await getJson(`${server.url}/readyz`);
      expect(status).toBe(503);
      expect(body).toMatchObject({ status: "unavailable", database: "ok", migrations: "unknown" });
      expect(String(body.reason)).toMatch(/migration history/);
    } finally {
      await owner.query(`grant select on graphile_migrate.migrations to ${scratch.authenticatorRole}`);
    }
  });
});

describe("a server with MIGRATE_ON_START=false", () => {
  it("serves a migrated database with only AUTH_DATABASE_URL (no owner credentials)", async () => {
    const server = await startServerFor(
      { authenticatorUrl: scratch.urls.authenticatorUrl },
      { MIGRATE_ON_START: "false" },
    );
    try {
      expect((await getJson(`${server.url}/readyz`)).status).toBe(200);
      const response = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      expect(await response.json()).toEqual({ data: { __typename: "Query" } });
      // Nothing connected as the owner or the superuser on its behalf.
      const { rows } = await owner.query(
        "select count(*)::int as sessions from pg_stat_activity where datname = $1 and usename = $2 and application_name <> 'readiness-test'",
        [scratch.name, scratch.ownerRole],
      );
      expect(rows[0].sessions).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("refuses to start on a database that lacks a committed migration, naming it", async () => {
    const undo = await forgetLatestMigration();
    try {
      const starting = startServerFor(
        { authenticatorUrl: scratch.urls.authenticatorUrl },
        { MIGRATE_ON_START: "false" },
      );
      await expect(starting).rejects.toBeInstanceOf(DatabaseUnavailableError);
      await expect(starting).rejects.toThrow(
        new RegExp(`not ready to serve.*${latest.filename.replace(".", "\\.")}.*migrate`),
      );
    } finally {
      await undo();
    }
  });
});
