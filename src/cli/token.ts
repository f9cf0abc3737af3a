#!/usr/bin/env node
// `npm run token -- --email <email> --org <slug>`: prints a signed token for local exploration.
// Also package.json's bin `prospectflow-token`, so `TOKEN=$(npx prospectflow-token …)` captures only
// the token: npx prints nothing of its own on stdout, npm run prints its `> script` banner there.
import pg from "pg";
import { resolveJwtSecret } from "../auth/jwt-secret.ts";
import { signToken } from "../auth/jwt.ts";
import { CommandError, runCommand } from "./run-cli.ts";

runCommand({
  usage: `Usage: npm run token -- --email <email> --org <organisation slug>

Prints a bearer token for that user acting in that organisation, signed with this
server's JWT secret, with a session that logout revokes. The user must be an active
member of the organisation. Example: npm run token -- --email maya@acme.test --org acme
Only the token goes to stdout; to capture it in a shell variable (npm run adds its own lines):
  TOKEN=$(npx prospectflow-token --email maya@acme.test --org acme)`,
  options: { email: { type: "string" }, org: { type: "string" } },
  required: ["email", "org"],
  async run({ values, config, logger, database }) {
    const client = new pg.Client({ connectionString: database.urls.ownerUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ user_id: string; organisation_id: string; role: string; status: string }>(
        `select u.id as user_id, o.id as organisation_id, m.role, m.status
           from iam.users u
           join iam.organisation_users m on m.user_id = u.id
           join iam.organisations o on o.id = m.organisation_id
          where u.email = $1 and o.slug = $2`,
        [values.email, values.org],
      );
      const membership = rows[0];
      if (!membership) throw new CommandError(`No membership of ${values.email} in organisation "${values.org}".`);
      if (membership.status !== "active") {
        throw new CommandError(`${values.email}'s membership in "${values.org}" is ${membership.status}, not active.`);
      }
      const secret = await resolveJwtSecret(config, logger);
      // A real session, like login's: `logout` with this token revokes it.
      const { rows: sessions } = await client.query<{ session_id: string }>(
        "select (g).session_id from app_hidden.start_session($1, $2, $3) as g",
        [membership.user_id, membership.organisation_id, config.jwtLifetimeSeconds],
      );
      const token = signToken(
        { userId: membership.user_id, organisationId: membership.organisation_id, sessionId: sessions[0]!.session_id },
        secret,
        config.jwtLifetimeSeconds,
      );
      process.stderr.write(`Token for ${values.email} (${membership.role}) in ${values.org}:\n`);
      process.stdout.write(`${token}\n`);
    } finally {
      await client.end();
    }
  },
});
