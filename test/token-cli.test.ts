// The token command as the README shows it: `TOKEN=$(npx prospectflow-token --email … --org …)`,
// run by a real shell, captures exactly a JWT (npm run's `> script` lines would not be), signed
// with the server's secret for that member; a wrong organisation leaves the variable empty.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { createOrganisation, ownerPool, testDatabase, type TestOrganisation } from "./helpers/database.ts";

const SECRET = "token-cli-test-secret-of-at-least-32-bytes";
const owner = ownerPool();
let organisation: TestOrganisation;

/** The README's capture line, e.g. `TOKEN=$(npx prospectflow-token --email maya@acme.test --org acme)`. */
const documented = /^TOKEN=\$\((npx prospectflow-token --email \S+ --org \S+)\)$/m.exec(
  readFileSync(path.join(projectRoot, "README.md"), "utf8"),
);

beforeAll(async () => {
  organisation = await createOrganisation(owner, "token-cli");
});

afterAll(async () => {
  await owner.end();
});

/** The test database and a known secret; npm's own verbosity as a person's shell has it (`npm test -s` sets it). */
function environment(): NodeJS.ProcessEnv {
  const { urls } = testDatabase();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: "warn",
    DATABASE_URL: urls.ownerUrl,
    AUTH_DATABASE_URL: urls.authenticatorUrl,
    ROOT_DATABASE_URL: urls.rootUrl,
    JWT_SECRET: SECRET,
  };
  delete env.npm_config_loglevel;
  return env;
}

/** Runs the documented line in sh with this email and slug, and prints what $TOKEN holds. */
function capture(email: string, slug: string) {
  const command = documented![1]!.replace(/--email \S+/, `--email ${email}`).replace(/--org \S+/, `--org ${slug}`);
  return spawnSync("sh", ["-c", `TOKEN=$(${command}) ; status=$? ; printf '%s' "$TOKEN" ; exit $status`], {
    cwd: projectRoot,
    encoding: "utf8",
    timeout: 60_000,
    env: environment(),
  });
}

it("the README shows the capture line", () => {
  expect(documented?.[1]).toMatch(/^npx prospectflow-token /);
});

it("TOKEN=$(npx prospectflow-token …) captures exactly a JWT for that member", () => {
  const result = capture(organisation.emails.member, organisation.slug);
  expect(result.status, result.stderr).toBe(0);
  expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  const claims = jwt.verify(result.stdout, SECRET) as jwt.JwtPayload;
  expect(claims.sub).toBe(organisation.users.member);
  expect(claims.organisation_id).toBe(organisation.id);
});

it("a wrong organisation captures nothing and fails, with the reason on stderr", () => {
  const result = capture(organisation.emails.member, `${organisation.slug}-missing`);
  expect(result.status).not.toBe(0);
  expect(result.stdout).toBe("");
  expect(result.stderr).toContain("No membership");
});

it("npm run token would not do: its banner lands in the captured value", () => {
  const result = spawnSync(
    "sh",
    ["-c", `printf '%s' "$(npm run token -- --email ${organisation.emails.member} --org ${organisation.slug})"`],
    {
      cwd: projectRoot,
      encoding: "utf8",
      timeout: 60_000,
      env: environment(),
    },
  );
  expect(result.stdout).toContain("> ");
  expect(result.stdout).toMatch(/[\w-]+\.[\w-]+\.[\w-]+$/);
});
