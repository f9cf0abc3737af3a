// Runs every plain-SQL RLS script under test/rls (the same files a person runs with psql)
// against the test database, connected as the owner like the psql instructions say.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { testDatabase } from "./helpers/database.ts";

const folder = path.join(projectRoot, "test", "rls");
const helpers = readFileSync(path.join(folder, "helpers.sql"), "utf8");
const scripts = readdirSync(folder)
  .filter((file) => file.endsWith(".sql") && file !== "helpers.sql")
  .sort();

it("finds the RLS scripts", () => {
  expect(scripts).toContain("crm-isolation.sql");
});

it.each(scripts)("%s passes and leaves nothing behind", async (script) => {
  const client = new pg.Client({ connectionString: testDatabase().urls.ownerUrl });
  const passed: string[] = [];
  client.on("notice", (notice) => {
    if (notice.message?.startsWith("ok: ")) passed.push(notice.message.slice(4));
  });
  await client.connect();
  try {
    await client.query(helpers);
    await client.query(readFileSync(path.join(folder, script), "utf8"));
    const { rows } = await client.query(
      "select count(*)::int as n from iam.organisations where slug like 'rls-script-%'",
    );
    expect(rows[0].n).toBe(0);
  } finally {
    await client.end();
  }
  expect(passed.length).toBeGreaterThan(3);
});
