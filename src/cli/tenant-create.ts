// `npm run tenant:create -- --name "Acme" --owner-email ada@acme.test [--owner-password …]`
import { randomBytes } from "node:crypto";
import pg from "pg";
import { runCommand } from "./run-cli.ts";

runCommand({
  usage: `Usage: npm run tenant:create -- --name <organisation name> --owner-email <email> [--owner-password <password>]

Creates an organisation (with a unique slug) and its owner, whose email counts as verified
(the operator vouches for it), so they can sign in at once. Without
--owner-password a random password is generated and printed once.`,
  options: { name: { type: "string" }, "owner-email": { type: "string" }, "owner-password": { type: "string" } },
  required: ["name", "owner-email"],
  async run({ values, database }) {
    const password = values["owner-password"] ?? `${randomBytes(12).toString("base64url")}-1`;
    const client = new pg.Client({ connectionString: database.urls.ownerUrl });
    await client.connect();
    try {
      // The operator vouches for the owner's address: the account is verified and can sign in at once.
      const { rows } = await client.query<{ organisation_id: string; slug: string }>(
        "select * from app_hidden.create_verified_organisation($1, $2, $3)",
        [values.name, values["owner-email"], password],
      );
      process.stdout.write(
        `Created organisation "${values.name}" (slug: ${rows[0]!.slug}) owned by ${values["owner-email"]}.\n`,
      );
      if (values["owner-password"] === undefined) process.stdout.write(`Owner's password: ${password}\n`);
    } finally {
      await client.end();
    }
  },
});
