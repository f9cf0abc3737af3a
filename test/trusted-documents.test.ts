// Trusted documents (README "Trusted documents") and the production posture, against real server
// processes: in production only registered operations run, refused before any planning with
// DOCUMENT_NOT_TRUSTED; the README's operations are registered and cannot drift; the operator
// switch; introspection refused to anonymous callers in production; and the bombs refused
// within seconds, in development and production, while another tenant keeps being answered.
import { memberToken } from "./helpers/tokens.ts";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../src/config.ts";
import { documentHash } from "../src/documents/document-hash.ts";
import { loadDocumentStore } from "../src/documents/document-store.ts";
import { documentKey } from "../src/documents/operations.ts";
import {
  BENCH_DOCUMENTS_DIR,
  hashesIn,
  readmeDocuments,
  README_DOCUMENTS_DIR,
  registered,
} from "../src/documents/registry.ts";
import { benchOperations } from "../bench/documents.ts";
import { createOrganisation, ownerPool, testDatabase, type TestOrganisation } from "./helpers/database.ts";
import { TEST_JWT_SECRET } from "./helpers/http-server.ts";
import { aliasBomb, fanOut, fragmentBomb, seedFanOutTenant } from "./helpers/limits.ts";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.ts";

const execFileAsync = promisify(execFile);
const owner = ownerPool();
let orgA: TestOrganisation;
let orgB: TestOrganisation;
let tokenA: string;
let tokenB: string;

/** A dashboard's file: two operations, one with a fragment. */
const DASHBOARD_FILE = `query DashboardPeople($n: Int) { people(first: $n) { totalCount nodes { email } } }
query DashboardCompanies { companies(first: 2) { nodes { ...CompanyCard } } }
fragment CompanyCard on Company { name }
query TooWide { ${Array.from({ length: 21 }, (_, i) => `r${i}: __typename`).join(" ")} }
`;

/** A README operation: companies with their positions and people. */
const README_COMPANIES =
  "{ companies(first: 5) { nodes { name positions { nodes { jobTitle person { firstName email } } } } } }";

beforeAll(async () => {
  orgA = await createOrganisation(owner, "trusted-a");
  orgB = await createOrganisation(owner, "trusted-b");
  await seedFanOutTenant(owner, orgA.id, 100);
  await seedFanOutTenant(owner, orgB.id, 3);
  tokenA = memberToken(orgA, "member");
  tokenB = memberToken(orgB, "member");
});

afterAll(async () => {
  await owner.end();
});

function serve(environment: Record<string, string>): Promise<ServerProcess> {
  return startServerProcess({
    NODE_ENV: "production",
    DATABASE_URL: testDatabase().urls.ownerUrl,
    AUTH_DATABASE_URL: testDatabase().urls.authenticatorUrl,
    DEMO_DATA: "off",
    JWT_SECRET: TEST_JWT_SECRET,
    ...environment,
  });
}

interface Answer {
  status: number;
  body: {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- shapes vary per query
    data?: Record<string, any> | null;
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  };
  ms: number;
}

async function post(server: ServerProcess, payload: Record<string, unknown>, token?: string): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(payload),
  });
  return { status: response.status, body: (await response.json()) as Answer["body"], ms: Date.now() - started };
}

const codeOf = (answer: Answer) => answer.body.errors?.[0]?.extensions?.code;

describe("the registered set", () => {
  it("holds exactly the README's operations (run `npm run documents -- sync-readme` after editing them)", () => {
    const expected = readmeDocuments();
    expect(expected.length).toBeGreaterThan(10);
    expect(hashesIn(README_DOCUMENTS_DIR)).toEqual(expected.map((document) => document.hash).sort());
    for (const document of expected) {
      expect(readFileSync(path.join(README_DOCUMENTS_DIR, `${document.hash}.graphql`), "utf8")).toBe(document.text);
    }
  });

  it("holds exactly the bench's operations (run `npm run documents -- sync-bench` after editing bench/scenarios.ts)", () => {
    expect(hashesIn(BENCH_DOCUMENTS_DIR)).toEqual(
      registered(benchOperations())
        .map((document) => document.hash)
        .sort(),
    );
  });

  it("refuses to start from a file whose name is not the hash of its contents; a correct one loads", () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), "documents-"));
    try {
      const text = "# any layout\n{\n  __typename\n}\n";
      const hash = documentHash(documentKey(text));
      expect(hash).toBe(documentHash("{__typename}"));
      writeFileSync(path.join(folder, `${hash}.graphql`), text);
      expect(loadDocumentStore([folder]).get(hash)).toBe(text);
      writeFileSync(path.join(folder, `${documentHash("other")}.graphql`), text);
      expect(() => loadDocumentStore([folder])).toThrow(/not the SHA-256 of its contents/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("in production (trusted documents enforced)", () => {
  let server: ServerProcess;
  let appFolder: string;
  let registeredHash: string;

  beforeAll(async () => {
    // `npm run documents -- add` registers a dashboard's file; the server loads that folder too.
    appFolder = mkdtempSync(path.join(os.tmpdir(), "app-documents-"));
    const file = path.join(appFolder, "dashboard.graphql");
    writeFileSync(file, DASHBOARD_FILE);
    const { stdout } = await execFileAsync(process.execPath, [
      path.join(projectRoot, "src/cli/documents.ts"),
      "add",
      file,
      "--dir",
      path.join(appFolder, "registered"),
    ]);
    registeredHash = stdout
      .split("\n")
      .find((line) => line.includes("DashboardPeople"))!
      .split(/\s+/)[0]!;
    server = await serve({ TRUSTED_DOCUMENTS_DIRS: `documents,${path.join(appFolder, "registered")}` });
  });

  afterAll(async () => {
    await server?.terminate();
    rmSync(appFolder, { recursive: true, force: true });
  });

  it("signs a real user in with the registered first-party SignIn (variables), which the README's demo logins cannot do", async () => {
    const password = "correct-horse-battery-42";
    await owner.query("select app_hidden.set_password($1, $2)", [orgA.users.member, password]);
    const signIn = readFileSync(path.join(projectRoot, "src/documents/first-party/sign-in.graphql"), "utf8");
    const answer = await post(server, {
      query: signIn,
      operationName: "SignIn",
      variables: { email: orgA.emails.member, password },
    });
    expect(answer.body.errors).toBeUndefined();
    expect(typeof (answer.body.data?.login as { token?: unknown } | undefined)?.token).toBe("string");
    // Beside it: the same operation with a field added is another document, refused.
    const altered = signIn.replace("expiresAt\n  }\n}", "expiresAt userId\n  }\n}");
    const refused = await post(server, {
      query: altered,
      operationName: "SignIn",
      variables: { email: "x", password },
    });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe("DOCUMENT_NOT_TRUSTED");
  });

  it("refuses an unregistered document at once with DOCUMENT_NOT_TRUSTED", async () => {
    const refused = await post(server, { query: "{ people { nodes { email } } }" }, tokenA);
    expect(refused.status).toBe(400);
    expect(codeOf(refused)).toBe("DOCUMENT_NOT_TRUSTED");
    expect(refused.body.errors?.[0]?.message).toMatch(/runs only registered \(trusted\) documents/);
    expect(refused.body.data).toBeUndefined();
  });

  it("runs a README operation sent as text, in any layout (comments, line breaks)", async () => {
    const answer = await post(
      server,
      { query: `# pasted from the README\n${README_COMPANIES.replace(/ /g, "\n  ")}` },
      tokenA,
    );
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data?.companies.nodes[0].name).toBe("Fan-out company");
  });

  it("runs a registered document sent by its documentId (plain or sha256:), and refuses an unknown id", async () => {
    const byId = await post(server, { documentId: registeredHash, variables: { n: 2 } }, tokenA);
    expect(byId.body.errors).toBeUndefined();
    expect(byId.body.data?.people).toMatchObject({ totalCount: 100 });
    expect(byId.body.data?.people.nodes).toHaveLength(2);
    const prefixed = await post(server, { documentId: `sha256:${registeredHash}`, variables: { n: 1 } }, tokenA);
    expect(prefixed.body.data?.people.nodes).toHaveLength(1);
    const unknown = await post(server, { documentId: documentHash("unknown") }, tokenA);
    expect(codeOf(unknown)).toBe("DOCUMENT_NOT_TRUSTED");
    expect(unknown.body.errors?.[0]?.message).toMatch(/No registered document has this id/);
  });

  it("runs one operation of a registered file sent whole, selected by operationName", async () => {
    const answer = await post(server, { query: DASHBOARD_FILE, operationName: "DashboardCompanies" }, tokenA);
    expect(answer.body).toEqual({ data: { companies: { nodes: [{ name: "Fan-out company" }] } } });
    const edited = DASHBOARD_FILE.replace("{ name }", "{ name id }");
    expect(codeOf(await post(server, { query: edited, operationName: "DashboardCompanies" }, tokenA))).toBe(
      "DOCUMENT_NOT_TRUSTED",
    );
  });

  it("holds registered documents to the limits too, sent by id or as text", async () => {
    const tooWide = DASHBOARD_FILE.split("\n").find((line) => line.startsWith("query TooWide"))!;
    const byText = await post(server, { query: tooWide }, tokenA);
    expect(codeOf(byText)).toBe("ROOT_FIELD_LIMIT_EXCEEDED");
    const byId = await post(server, { documentId: documentHash(documentKey(tooWide)) }, tokenA);
    expect(codeOf(byId)).toBe("ROOT_FIELD_LIMIT_EXCEEDED");
  });

  it("refuses introspection (unregistered) for anyone", async () => {
    expect(codeOf(await post(server, { query: "{ __schema { queryType { name } } }" }))).toBe("DOCUMENT_NOT_TRUSTED");
  });

  it("refuses the fragment and alias bombs within seconds while another tenant is answered", async () => {
    await expectBombsRefusedWhileServing(server, ["DOCUMENT_NOT_TRUSTED"]);
  });
});

describe("in production with ALLOW_UNTRUSTED_DOCUMENTS=true (the limits alone)", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await serve({ ALLOW_UNTRUSTED_DOCUMENTS: "true" });
  });
  afterAll(async () => {
    await server?.terminate();
  });

  it("runs an unregistered document", async () => {
    const answer = await post(server, { query: "{ people(first: 1) { totalCount } }" }, tokenA);
    expect(answer.body).toEqual({ data: { people: { totalCount: 100 } } });
  });

  it("refuses introspection to anonymous callers with INTROSPECTION_DISABLED, and answers a member", async () => {
    const query = "{ __schema { queryType { name } } }";
    const anonymous = await post(server, { query });
    expect(anonymous.status).toBe(403);
    expect(codeOf(anonymous)).toBe("INTROSPECTION_DISABLED");
    expect(anonymous.body.errors?.[0]?.message).toMatch(/ALLOW_ANONYMOUS_INTROSPECTION/);
    expect((await post(server, { query }, tokenA)).body).toEqual({
      data: { __schema: { queryType: { name: "Query" } } },
    });
    // __typename is not introspection.
    expect((await post(server, { query: "{ __typename }" })).body).toEqual({ data: { __typename: "Query" } });
  });

  it("refuses the fragment and alias bombs within seconds while another tenant is answered", async () => {
    await expectBombsRefusedWhileServing(server, ["DEPTH_LIMIT_EXCEEDED", "ALIAS_LIMIT_EXCEEDED"]);
  });

  it("refuses the 1-million-object fan-out before execution, and RSS stays within a few hundred MB", async () => {
    const rssBefore = rssMegabytes(server);
    const started = Date.now();
    const refused = await Promise.all([1, 2, 3].map(() => post(server, { query: fanOut(100) }, tokenA)));
    for (const answer of refused) expect(codeOf(answer)).toBe("COST_LIMIT_EXCEEDED");
    expect(Date.now() - started).toBeLessThan(5_000);
    // The largest fan-out the cost limit lets through (10,000 positions each), three at once.
    const allowed =
      "{ companies(first: 1) { nodes { positions(first: 100) { nodes { jobTitle company { positions(first: 100) { nodes { jobTitle person { firstName email } } } } } } } } }";
    const answers = await Promise.all([1, 2, 3].map(() => post(server, { query: allowed }, tokenA)));
    for (const answer of answers) {
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data?.companies.nodes[0].positions.nodes).toHaveLength(100);
    }
    expect(rssMegabytes(server) - rssBefore).toBeLessThan(300);
  });
});

describe("in production with ALLOW_ANONYMOUS_INTROSPECTION=true", () => {
  it("answers anonymous introspection", async () => {
    const server = await serve({ ALLOW_UNTRUSTED_DOCUMENTS: "true", ALLOW_ANONYMOUS_INTROSPECTION: "true" });
    try {
      const answer = await post(server, { query: "{ __schema { queryType { name } } }" });
      expect(answer.body).toEqual({ data: { __schema: { queryType: { name: "Query" } } } });
    } finally {
      await server.terminate();
    }
  });
});

describe("in development", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await serve({ NODE_ENV: "development", GRAPHILE_ENV: "development", DEMO_DATA: "off" });
  });
  afterAll(async () => {
    await server?.terminate();
  });

  it("accepts any document, and anonymous introspection (GraphiQL)", async () => {
    expect((await post(server, { query: "{ people(first: 1) { totalCount } }" }, tokenA)).body).toEqual({
      data: { people: { totalCount: 100 } },
    });
    expect((await post(server, { query: "{ __schema { queryType { name } } }" })).body.data).toBeTruthy();
  });

  it("refuses the fragment and alias bombs within seconds while another tenant is answered", async () => {
    await expectBombsRefusedWhileServing(server, ["DEPTH_LIMIT_EXCEEDED", "ALIAS_LIMIT_EXCEEDED"]);
  });
});

/** The bombs, anonymous and signed in (a new alias name each, as an attacker would), beside org B's page. */
async function expectBombsRefusedWhileServing(server: ServerProcess, codes: string[]): Promise<void> {
  const started = Date.now();
  const bombs = [
    post(server, { query: fragmentBomb(4, 6, "anon") }),
    post(server, { query: fragmentBomb(4, 6, "member") }, tokenA),
    post(server, { query: fragmentBomb(4, 5, "wide") }, tokenA),
    post(server, { query: aliasBomb(1000) }),
    post(server, { query: aliasBomb(2000) }, tokenA),
  ];
  const other = post(server, { query: README_COMPANIES }, tokenB);
  const [answers, page] = await Promise.all([Promise.all(bombs), other]);
  for (const answer of answers) {
    expect(codes).toContain(codeOf(answer));
    expect(answer.ms).toBeLessThan(5_000);
  }
  expect(page.body.errors).toBeUndefined();
  expect(page.body.data?.companies.nodes[0].positions.nodes).toHaveLength(3);
  expect(page.ms).toBeLessThan(5_000);
  expect(Date.now() - started).toBeLessThan(5_000);
}

function rssMegabytes(server: ServerProcess): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}
