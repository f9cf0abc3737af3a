// The README's walkthrough on a development server without SMTP_URL, as on a fresh machine: the
// demo owner invites a colleague, `npm run mail:list` shows the kept message with its link, the
// colleague signs up through it and is a member with the invited role.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningServer } from "../src/server.ts";
import { runCli } from "./helpers/cli.ts";
import { graphql } from "./helpers/http-server.ts";
import { createOwnDatabase, type OwnDatabase } from "./helpers/membership-database.ts";
import { startServerFor } from "./helpers/server-for-database.ts";

let own: OwnDatabase;
let server: RunningServer;
let dataDir: string;

beforeAll(async () => {
  own = await createOwnDatabase("walkthrough");
  dataDir = mkdtempSync(path.join(tmpdir(), "pf-walkthrough-"));
  server = await startServerFor(own.database.urls, {
    NODE_ENV: "development",
    MAILER: "in-process",
    MAIL_POLL_INTERVAL_MS: "50",
    DEMO_DATA: "on",
    DATA_DIR: dataDir,
  });
});

afterAll(async () => {
  await server?.close();
  await own?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

it("invite → the link in npm run mail:list → sign up through it → a member with the invited role", async () => {
  const login = await graphql(
    server,
    `
      mutation {
        login(input: { email: "olivia@acme.test", password: "prospectflow-demo" }) {
          token
        }
      }
    `,
  );
  const owner = login.body.data!.login.token as string;
  const invited = await graphql(
    server,
    `
      mutation {
        inviteMember(input: { email: "new.colleague@acme.test", role: "member" }) {
          result {
            id
            email
            role
            status
          }
        }
      }
    `,
    { token: owner },
  );
  expect(invited.body.data?.inviteMember.result).toMatchObject({ role: "member", status: "pending" });

  // The development mailer keeps the message (no SMTP_URL); mail:list shows its link and token.
  const deadline = Date.now() + 10_000;
  while (!readdirSyncSafe(path.join(dataDir, "mail")).length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const listed = await runCli("src/cli/mail-list.ts", ["--to", "new.colleague@acme.test"], { DATA_DIR: dataDir });
  expect(listed.code, listed.stderr).toBe(0);
  expect(listed.stdout).toMatch(
    /\[invitation\]\n {2}Invitation to join Acme Outreach on ProspectFlow\n {2}link: {2}http:\/\/localhost:\d+\/invitations\/accept\?token=/,
  );
  const token = /token: (\S+)/.exec(listed.stdout)![1]!;

  const joined = await graphql(
    server,
    `
      mutation ($token: String!) {
        register(input: { email: "new.colleague@acme.test", password: "correct-horse-42", invitationToken: $token }) {
          message
          session {
            token
            organisationId
          }
        }
      }
    `,
    { variables: { token } },
  );
  expect(joined.body.errors).toBeUndefined();
  const session = joined.body.data!.register.session;
  const me = await graphql(
    server,
    `
      {
        organisations {
          nodes {
            slug
          }
        }
        organisationUsers {
          nodes {
            role
            status
            user {
              email
            }
          }
        }
      }
    `,
    {
      token: session.token,
    },
  );
  expect(me.body.data?.organisations.nodes).toEqual([{ slug: "acme" }]);
  expect(me.body.data?.organisationUsers.nodes).toContainEqual({
    role: "member",
    status: "active",
    user: { email: "new.colleague@acme.test" },
  });
  // The database holds no token: only the kept file (development) and the mail have it.
  const { rows } = await own.owner.query(
    "select count(*)::int as n from app_private.mail_outbox b where b::text like '%' || $1 || '%'",
    [token],
  );
  expect(rows[0].n).toBe(0);
});

function readdirSyncSafe(directory: string): string[] {
  try {
    return readdirSync(directory);
  } catch {
    return [];
  }
}
