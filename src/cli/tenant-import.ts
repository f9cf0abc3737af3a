// `npm run tenant:import -- --file acme.json`: restores an export into a database without that organisation.
import pg from "pg";
import { importOrganisation, ImportError } from "../tenancy/import-organisation.ts";
import { CommandError, runCommand } from "./run-cli.ts";

runCommand({
  usage: `Usage: npm run tenant:import -- --file <export.json>

Restores an organisation exported with npm run tenant:export into this database, in one
transaction. Refuses if the organisation (or one of its users) already exists here.`,
  options: { file: { type: "string" } },
  required: ["file"],
  async run({ values, database }) {
    const client = new pg.Client({ connectionString: database.urls.ownerUrl });
    await client.connect();
    try {
      const counts = await importOrganisation(client, values.file!);
      const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
      process.stdout.write(`Imported ${total} rows into ${Object.keys(counts).length} tables.\n`);
    } catch (error) {
      if (error instanceof ImportError) throw new CommandError(error.message);
      throw error;
    } finally {
      await client.end();
    }
  },
});
