// Loads the demo organisations (src/db/sql/demo-data.sql) into a database that has none yet.
import { readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { projectRoot } from "../config.ts";
import type { Logger } from "../logger.ts";

export const DEMO_PASSWORD = "prospectflow-demo";

/** Returns true when the demo data was loaded, false when organisations already existed. */
export async function loadDemoDataIfEmpty(ownerUrl: string, logger: Logger): Promise<boolean> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query("begin");
    // Two servers starting at once must not both load it.
    await client.query("lock table iam.organisations in share row exclusive mode");
    const { rows } = await client.query<{ empty: boolean }>(
      "select not exists (select 1 from iam.organisations) as empty",
    );
    if (!rows[0]?.empty) {
      await client.query("rollback");
      return false;
    }
    await client.query(readFileSync(path.join(projectRoot, "src/db/sql/demo-data.sql"), "utf8"));
    await client.query("commit");
    logger.info("loaded demo data: organisations acme and globex");
    return true;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
