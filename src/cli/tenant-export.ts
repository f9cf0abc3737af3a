// `npm run tenant:export -- --org acme [--out acme.json]`: every row of one organisation, as JSON.
import { createWriteStream } from "node:fs";
import { finished } from "node:stream/promises";
import pg from "pg";
import { exportOrganisation } from "../tenancy/export-organisation.ts";
import { runCommand } from "./run-cli.ts";

runCommand({
  usage: `Usage: npm run tenant:export -- --org <slug> [--out <file>]

Writes every row of the organisation, table by table, as one JSON document (streamed: memory use
does not grow with the organisation's size), to --out or to standard output. Restore it into an
empty database with npm run tenant:import. It includes the members' password hashes.`,
  options: { org: { type: "string" }, out: { type: "string" } },
  required: ["org"],
  async run({ values, database }) {
    const client = new pg.Client({ connectionString: database.urls.ownerUrl });
    await client.connect();
    const out = values.out ? createWriteStream(values.out) : process.stdout;
    try {
      const counts = await exportOrganisation(client, values.org!, out);
      if (values.out) {
        out.end();
        await finished(out);
      }
      const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
      process.stderr.write(`Exported ${total} rows of ${values.org} from ${Object.keys(counts).length} tables.\n`);
    } finally {
      await client.end();
    }
  },
});
