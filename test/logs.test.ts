// The logs an operator gets from a production server (a real process, its stdout captured): JSON
// lines only, an access line per request with the fields that trace an attack, masked errors
// with the hash the client was given, every refusal with its code; and never a token, a password
// or a request's variables.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrganisation, ownerPool, testDatabase, type TestOrganisation } from "./helpers/database.ts";
import { TEST_JWT_SECRET } from "./helpers/http-server.ts";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.ts";

const owner = ownerPool();
const PASSWORD = `log-secret-password-${randomBytes(4).toString("hex")}`;
const VARIABLE_MARKER = `variable-marker-${randomBytes(4).toString("hex")}`;
let server: ServerProcess;
let org: TestOrganisation;
let token = "";
let maskedMessage = "";
type LogLine = Record<string, unknown>;
let lines: LogLine[] = [];
let rawStdout = "";

async function post(body: object, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    requestId: response.headers.get("x-request-id"),
    body: (await response.json()) as {
      data?: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- shapes vary per query
      errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
    },
  };
}

const requestIds: Record<string, string | null> = {};

beforeAll(async () => {
  const { urls } = testDatabase();
  org = await createOrganisation(owner, "logs");
  await owner.query("select app_hidden.set_password($1, $2)", [org.users.member, PASSWORD]);
  server = await startServerProcess({
    NODE_ENV: "production",
    LOG_LEVEL: "info",
    // This test is about the log lines, not trusted documents: it sends its own documents.
    ALLOW_UNTRUSTED_DOCUMENTS: "true",
    DATABASE_URL: urls.ownerUrl,
    AUTH_DATABASE_URL: urls.authenticatorUrl,
    JWT_SECRET: TEST_JWT_SECRET,
    THROTTLING: "on",
    TRUST_PROXY: "loopback",
    LOGIN_MAX_FAILURES: "2",
  });
  const address = `203.0.113.${randomBytes(1)[0]}`;
  const from = { "x-forwarded-for": address };

  const login = await post(
    {
      query:
        "mutation SignIn($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { token } }",
      variables: { email: org.emails.member, password: PASSWORD },
    },
    from,
  );
  token = login.body.data?.login?.token;
  requestIds.login = login.requestId;
  expect(typeof token).toBe("string");

  const people = await post(
    {
      query: "query PeoplePage($email: String) { people(condition: { email: $email }) { totalCount } }",
      variables: { email: VARIABLE_MARKER },
    },
    { ...from, authorization: `Bearer ${token}` },
  );
  expect(people.body.errors).toBeUndefined();
  requestIds.people = people.requestId;

  // A NUL byte in a text parameter: PostgreSQL refuses it (22021), which the API masks.
  const masked = await post(
    {
      query:
        'mutation Masked { login(input: { email: "nul\\u0000@example.test", password: "x-1234567890" }) { token } }',
    },
    from,
  );
  maskedMessage = masked.body.errors?.[0]?.message ?? "";
  requestIds.masked = masked.requestId;
  expect(maskedMessage).toMatch(/logged with hash/);

  for (let i = 0; i < 3; i++) {
    await post(
      {
        query:
          'mutation Wrong($email: String!) { login(input: { email: $email, password: "wrong-password-1" }) { token } }',
        variables: { email: org.emails.owner },
      },
      from,
    );
  }
  const refusedToken = await post({ query: "{ __typename }" }, { authorization: "Bearer not-a-token" });
  expect(refusedToken.status).toBe(401);
  requestIds.refusedToken = refusedToken.requestId;
  await fetch(`${server.url}/nowhere?token=query-string-secret`);

  await server.terminate();
  rawStdout = server.stdout();
  lines = rawStdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as LogLine);
});

afterAll(async () => {
  await server?.terminate();
  await owner.end();
});

describe("a production server's stdout", () => {
  it("is JSON lines only", () => {
    expect(lines.length).toBeGreaterThan(5);
    for (const line of rawStdout.split("\n").filter((l) => l !== "")) {
      expect(() => JSON.parse(line), line).not.toThrow();
    }
  });

  it("never holds the token, the password, the variables or the query string", () => {
    expect(rawStdout).not.toContain(token);
    expect(rawStdout).not.toContain(PASSWORD);
    expect(rawStdout).not.toContain(VARIABLE_MARKER);
    expect(rawStdout).not.toContain("query-string-secret");
    expect(rawStdout).not.toContain("not-a-token");
  });

  it("has an access line per request: method, path, status, duration, operation, organisation, user, request id", () => {
    const access = lines.filter((line) => line.msg === "request" || line.msg === "request failed");
    const people = access.find((line) => line.reqId === requestIds.people);
    expect(people).toMatchObject({
      method: "POST",
      path: "/graphql",
      status: 200,
      operationName: "PeoplePage",
      organisationId: org.id,
      userId: org.users.member,
    });
    expect(typeof people?.durationMs).toBe("number");
    const login = access.find((line) => line.reqId === requestIds.login);
    expect(login).toMatchObject({ operationName: "SignIn", status: 200 });
    expect(login?.organisationId).toBeUndefined();
    const notFound = access.find((line) => line.path === "/nowhere");
    expect(notFound).toMatchObject({ method: "GET", status: 404 });
  });

  it("logs the masked error once, with the hash and id the client was given", () => {
    const [, hash, id] = /hash: '([^']+)', id: '([^']+)'/.exec(maskedMessage) ?? [];
    const line = lines.find((candidate) => candidate.msg === "masked GraphQL error");
    expect(line).toMatchObject({ hash, errorId: id, level: 50, reqId: requestIds.masked });
    expect((line?.err as { message?: string })?.message).toMatch(/0x00|invalid byte sequence/);
  });

  it("logs every refusal with its code: the lockout (RATE_LIMITED) and the bad token (UNAUTHENTICATED)", () => {
    expect(lines.find((line) => line.msg === "request throttled")).toMatchObject({ code: "RATE_LIMITED" });
    expect(lines.find((line) => line.code === "RATE_LIMITED" && line.msg === "request")).toMatchObject({ status: 429 });
    const refused = lines.find((line) => line.msg === "token refused");
    expect(refused).toMatchObject({ code: "UNAUTHENTICATED", reason: "malformed", reqId: requestIds.refusedToken });
    const access = lines.find((line) => line.msg === "request" && line.reqId === requestIds.refusedToken);
    expect(access).toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
  });
});
