// `npm run tenant:delete -- --org acme --confirm acme`: GDPR deletion by an operator.
import pg from "pg";
import { CommandError, runCommand } from "./run-cli.ts";

runCommand({
  usage: `Usage: npm run tenant:delete -- --org <slug> --confirm <slug again>

Deletes the organisation and every row it owns in every table, and its users who belong to no
other organisation, in one transaction; keeps a deletion record (no personal data). Irreversible.`,
  options: { org: { type: "string" }, confirm: { type: "string" } },
  required: ["org", "confirm"],
  async run({ values, database }) {
    if (values.confirm !== values.org) throw new CommandError("--confirm must repeat the organisation's slug exactly.");
    const client = new pg.Client({ connectionString: database.urls.ownerUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string }>("select id from iam.organisations where slug = $1", [
        values.org,
      ]);
      if (!rows[0]) throw new CommandError(`No organisation with the slug "${values.org}".`);
      const result = await client.query<{ receipt: { rowsRemoved: Record<string, number> } }>(
        "select app_hidden.delete_organisation_data($1, null) as receipt",
        [rows[0].id],
      );
      const removed = result.rows[0]!.receipt.rowsRemoved;
      process.stdout.write(`Deleted organisation ${values.org}. Rows removed:\n`);
      for (const [table, count] of Object.entries(removed)) process.stdout.write(`  ${table}: ${count}\n`);
    } finally {
      await client.end();
    }
  },
});
