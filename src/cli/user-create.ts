// `npm run user:create -- --email ada@acme.test --password … [--org acme --role member]`
import pg from "pg";
import { CommandError, runCommand } from "./run-cli.ts";

const ROLES = ["owner", "admin", "member", "viewer"];

runCommand({
  usage: `Usage: npm run user:create -- --email <email> --password <password> [--org <slug> --role <admin|member|viewer>]

Creates a user who can sign in (their email counts as verified: the operator vouches for it), and
optionally adds them to an organisation with a role.`,
  options: {
    email: { type: "string" },
    password: { type: "string" },
    org: { type: "string" },
    role: { type: "string" },
  },
  required: ["email", "password"],
  async run({ values, database }) {
    if ((values.org === undefined) !== (values.role === undefined)) {
      throw new CommandError("--org and --role go together.");
    }
    if (values.role !== undefined && (!ROLES.includes(values.role) || values.role === "owner")) {
      throw new CommandError(
        "--role must be admin, member or viewer (an organisation's owner comes with tenant:create).",
      );
    }
    const client = new pg.Client({ connectionString: database.urls.ownerUrl });
    await client.connect();
    try {
      await client.query("begin");
      await client.query("select app_hidden.check_password($1, $2)", [values.password, values.email]);
      const existing = await client.query("select 1 from iam.users where email = $1::citext", [values.email]);
      if (existing.rowCount) throw new CommandError(`A user with the email ${values.email} already exists.`);
      const { rows } = await client.query<{ id: string }>(
        "insert into iam.users (email, email_verified_at) values ($1, now()) returning id",
        [values.email],
      );
      await client.query("select app_hidden.set_password($1, $2)", [rows[0]!.id, values.password]);
      if (values.org !== undefined) {
        const added = await client.query(
          `insert into iam.organisation_users (organisation_id, user_id, role)
           select o.id, $2, $3 from iam.organisations o where o.slug = $1`,
          [values.org, rows[0]!.id, values.role],
        );
        if (!added.rowCount) throw new CommandError(`No organisation with the slug "${values.org}".`);
      }
      await client.query("commit");
      process.stdout.write(`Created user ${values.email}${values.org ? ` (${values.role} in ${values.org})` : ""}.\n`);
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      await client.end();
    }
  },
});
