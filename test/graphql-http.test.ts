// GraphQL over HTTP, as a dashboard sees it: bad tokens get 401, a member sees only its own
// organisation, roles are enforced with clear codes, and no error leaks SQL or stack traces.
import { randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JWT_AUDIENCE, JWT_ISSUER } from "../src/auth/jwt.ts";
import type { RunningServer } from "../src/server.ts";
import { createOrganisation, ownerPool, type Role, type TestOrganisation } from "./helpers/database.ts";
import { graphql, startTestServer, TEST_JWT_SECRET, type GraphQLResponse } from "./helpers/http-server.ts";
import { memberToken } from "./helpers/tokens.ts";

const owner = ownerPool();
let server: RunningServer;
let orgA: TestOrganisation;
let orgB: TestOrganisation;
let personOfB: string;
let companyOfA: string;

const tokenFor = (org: TestOrganisation, role: Role) => memberToken(org, role, 300);

/** What an error response must never contain. */
function expectNoLeak(response: GraphQLResponse) {
  expect(response.text).not.toMatch(/\b(select|insert into|update crm|delete from)\b/i);
  expect(response.text).not.toMatch(/\bat .+\.(ts|js):\d+/);
  expect(response.text).not.toMatch(/"stack"/);
}

beforeAll(async () => {
  server = await startTestServer();
  orgA = await createOrganisation(owner, "http-a");
  orgB = await createOrganisation(owner, "http-b");
  for (const org of [orgA, orgB]) {
    const { rows: companies } = await owner.query(
      "insert into crm.companies (organisation_id, name) values ($1, 'Company of ' || $2) returning id",
      [org.id, org.slug],
    );
    for (let i = 0; i < 3; i++) {
      const { rows: people } = await owner.query(
        "insert into crm.people (organisation_id, first_name, email) values ($1, $2, $3) returning id",
        [org.id, `Person ${i}`, `p${i}.${org.slug}@example.test`],
      );
      await owner.query(
        "insert into crm.positions (organisation_id, person_id, company_id, job_title) values ($1, $2, $3, 'CEO')",
        [org.id, people[0].id, companies[0].id],
      );
      if (org === orgB && i === 0) personOfB = people[0].id;
    }
    if (org === orgA) companyOfA = companies[0].id;
  }
});

afterAll(async () => {
  await server.close();
  await owner.end();
});

describe("bearer tokens", () => {
  const claims = (org: TestOrganisation) => ({ sub: org.users.member, organisation_id: org.id });
  const sign = (payload: object, options: jwt.SignOptions = {}, secret = TEST_JWT_SECRET) =>
    jwt.sign(payload, secret, {
      algorithm: "HS256",
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      expiresIn: 300,
      ...options,
    });
  const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

  const badTokens: Array<[string, () => string, string]> = [
    ["not a JWT at all", () => "Bearer not-a-token", "malformed"],
    ["a JWT with a garbled payload", () => `Bearer ${base64url({ alg: "HS256" })}.!!!.sig`, "malformed"],
    [
      "signed with another secret",
      () => `Bearer ${sign(claims(orgA), {}, "another-secret-that-is-long-enough-0123456789")}`,
      "invalid_signature",
    ],
    [
      "alg: none",
      () =>
        `Bearer ${base64url({ alg: "none", typ: "JWT" })}.${base64url({ ...claims(orgA), exp: Math.floor(Date.now() / 1000) + 300, iss: JWT_ISSUER, aud: JWT_AUDIENCE })}.`,
      "invalid_signature",
    ],
    [
      "expired",
      () =>
        `Bearer ${jwt.sign({ ...claims(orgA), exp: Math.floor(Date.now() / 1000) - 10 }, TEST_JWT_SECRET, { algorithm: "HS256", issuer: JWT_ISSUER, audience: JWT_AUDIENCE })}`,
      "expired",
    ],
    [
      "without exp",
      () =>
        `Bearer ${jwt.sign(claims(orgA), TEST_JWT_SECRET, { algorithm: "HS256", issuer: JWT_ISSUER, audience: JWT_AUDIENCE })}`,
      "invalid_claims",
    ],
    [
      "with a sub that is not a UUID",
      () => `Bearer ${sign({ sub: "alice", organisation_id: orgA.id })}`,
      "invalid_claims",
    ],
    ["without organisation_id", () => `Bearer ${sign({ sub: orgA.users.member })}`, "invalid_claims"],
    ["for another audience", () => `Bearer ${sign(claims(orgA), { audience: "someone-else" })}`, "invalid_signature"],
    ["in a Basic header", () => "Basic dXNlcjpwYXNz", "malformed"],
  ];

  it.each(badTokens)("a token %s gets 401 with code UNAUTHENTICATED and no data", async (_label, header, reason) => {
    const response = await graphql(server, "{ people { nodes { id email } } }", { authorization: header() });
    expect(response.status).toBe(401);
    expect(response.body.data).toBeUndefined();
    expect(response.body.errors?.[0]?.extensions).toEqual({ code: "UNAUTHENTICATED", reason });
    expect(response.text).not.toContain("@example.test");
  });

  it("no token means the anonymous role, which reads no tenant data", async () => {
    const response = await graphql(server, "{ people { totalCount nodes { email } } }");
    expect(response.body.data?.people ?? null).toBeNull();
    expect(response.body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(response.text).not.toContain("@example.test");
    expectNoLeak(response);
  });
});

describe("a member", () => {
  it("reads only its own organisation's people, companies and positions", async () => {
    const response = await graphql(
      server,
      `
        {
          people {
            totalCount
            nodes {
              organisationId
            }
          }
          companies {
            nodes {
              organisationId
            }
          }
          positions {
            nodes {
              organisationId
              person {
                organisationId
              }
              company {
                organisationId
              }
            }
          }
        }
      `,
      { token: tokenFor(orgA, "viewer") },
    );
    expect(response.body.errors).toBeUndefined();
    const data = response.body.data!;
    const { rows } = await owner.query("select count(*)::int as n from crm.people where organisation_id = $1", [
      orgA.id,
    ]);
    expect(data.people.totalCount).toBe(rows[0].n);
    const seen = [
      ...data.people.nodes,
      ...data.companies.nodes,
      ...data.positions.nodes.flatMap((p: { organisationId: string; person: object; company: object }) => [
        p,
        p.person,
        p.company,
      ]),
    ].map((row: { organisationId: string }) => row.organisationId);
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set([orgA.id]));
  });

  it("gets null when fetching another organisation's row by id", async () => {
    const response = await graphql(server, "query($id: UUID!) { person(id: $id) { id email } }", {
      token: tokenFor(orgA, "owner"),
      variables: { id: personOfB },
    });
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data?.person).toBeNull();
  });

  it("sees its own organisation only, and only users who share it", async () => {
    const response = await graphql(server, "{ organisations { nodes { id } } users { nodes { id email } } }", {
      token: tokenFor(orgA, "member"),
    });
    expect(response.body.data?.organisations.nodes).toEqual([{ id: orgA.id }]);
    const userIds = response.body.data?.users.nodes.map((u: { id: string }) => u.id).sort();
    expect(userIds).toEqual(Object.values(orgA.users).sort());
  });

  it("navigates relations both ways: company → positions → person", async () => {
    const response = await graphql(
      server,
      "query($id: UUID!) { company(id: $id) { name positions { nodes { jobTitle person { email positions { totalCount } } } } } }",
      { token: tokenFor(orgA, "member"), variables: { id: companyOfA } },
    );
    expect(response.body.errors).toBeUndefined();
    const positions = response.body.data?.company.positions.nodes;
    expect(positions).toHaveLength(3);
    expect(positions[0].person.email).toMatch(/@example\.test$/);
  });
});

describe("requests GraphQL itself rejects", () => {
  it.each([
    ["an unknown field", "{ people { nodes { passwordHash } } }"],
    ["a syntax error", "{ people { "],
    ["a missing argument", "{ person { id } }"],
  ])("%s gets no data and code GRAPHQL_VALIDATION_FAILED", async (_label, query) => {
    const response = await graphql(server, query, { token: tokenFor(orgA, "member") });
    expect(response.body.data).toBeUndefined();
    expect(response.body.errors?.length).toBeGreaterThan(0);
    for (const error of response.body.errors!) expect(error.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expectNoLeak(response);
  });
});

describe("mutations", () => {
  it("creating a person without organisation_id lands it in the token's organisation", async () => {
    const email = `new-${randomUUID()}@example.test`;
    const response = await graphql(
      server,
      'mutation($email: String!) { createPerson(input: { person: { firstName: "Ada", email: $email } }) { person { id organisationId } } }',
      { token: tokenFor(orgA, "member"), variables: { email } },
    );
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data?.createPerson.person.organisationId).toBe(orgA.id);
    const { rows } = await owner.query("select organisation_id from crm.people where email = $1", [email]);
    expect(rows).toEqual([{ organisation_id: orgA.id }]);
  });

  it("offers no organisationId in create or update inputs", async () => {
    const response = await graphql(
      server,
      `
        {
          create: __type(name: "PersonInput") {
            inputFields {
              name
            }
          }
          patch: __type(name: "PersonPatch") {
            inputFields {
              name
            }
          }
        }
      `,
      { token: tokenFor(orgA, "member") },
    );
    const names = [...response.body.data!.create.inputFields, ...response.body.data!.patch.inputFields].map(
      (f: { name: string }) => f.name,
    );
    expect(names).toContain("email");
    expect(names).not.toContain("organisationId");
    expect(names).not.toContain("createdAt");
  });

  it("exposes no password hash anywhere in the schema", async () => {
    const response = await graphql(server, "{ __schema { types { name fields { name } } } }", {
      token: tokenFor(orgA, "member"),
    });
    const text = JSON.stringify(response.body.data);
    expect(text).toContain('"User"');
    // The password reset mutations are named for what they do; nothing else may mention a password.
    expect(
      text.replace(/"(requestPasswordReset|RequestPasswordResetInput|resetPassword|ResetPasswordInput)"/g, ""),
    ).not.toMatch(/password/i);
  });

  it("a viewer's mutation fails with FORBIDDEN and changes nothing", async () => {
    const email = `viewer-${randomUUID()}@example.test`;
    const response = await graphql(
      server,
      "mutation($email: String!) { createPerson(input: { person: { email: $email } }) { person { id } } }",
      { token: tokenFor(orgA, "viewer"), variables: { email } },
    );
    expect(response.body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(response.body.errors?.[0]?.message).toMatch(/viewer/);
    const { rowCount } = await owner.query("select 1 from crm.people where email = $1", [email]);
    expect(rowCount).toBe(0);
    expectNoLeak(response);
  });

  it("updating or deleting another organisation's row is NOT_FOUND and changes nothing", async () => {
    const token = tokenFor(orgA, "owner");
    const update = await graphql(
      server,
      'mutation($id: UUID!) { updatePerson(input: { id: $id, patch: { firstName: "Hacked" } }) { person { id } } }',
      { token, variables: { id: personOfB } },
    );
    const remove = await graphql(
      server,
      "mutation($id: UUID!) { deletePerson(input: { id: $id }) { person { id } } }",
      {
        token,
        variables: { id: personOfB },
      },
    );
    expect(update.body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(remove.body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const { rows } = await owner.query("select first_name from crm.people where id = $1", [personOfB]);
    expect(rows).toEqual([{ first_name: "Person 0" }]);
  });

  it("a position pointing at another organisation's person is REFERENCE_MISSING", async () => {
    const response = await graphql(
      server,
      "mutation($person: UUID!, $company: UUID!) { createPosition(input: { position: { personId: $person, companyId: $company } }) { position { id } } }",
      { token: tokenFor(orgA, "member"), variables: { person: personOfB, company: companyOfA } },
    );
    expect(response.body.errors?.[0]?.extensions?.code).toBe("REFERENCE_MISSING");
    expectNoLeak(response);
  });

  it("a duplicate email in the organisation is ALREADY_EXISTS", async () => {
    const token = tokenFor(orgA, "member");
    const mutation =
      'mutation { createPerson(input: { person: { email: "p1.EMAIL@example.test" } }) { person { id } } }'.replace(
        "EMAIL",
        orgA.slug,
      );
    const response = await graphql(server, mutation, { token });
    expect(response.body.errors?.[0]?.extensions?.code).toBe("ALREADY_EXISTS");
    expectNoLeak(response);
  });

  it.each([
    ["a malformed UUID", "query($id: UUID!) { person(id: $id) { id } }", { id: "not-a-uuid" }],
    [
      "an unknown status",
      "mutation($s: PersonStatus) { createPerson(input: { person: { status: $s } }) { person { id } } }",
      { s: "bogus" },
    ],
    [
      "a name that is too long",
      `mutation { createCompany(input: { company: { name: "${"x".repeat(201)}" } }) { company { id } } }`,
      {},
    ],
    ["a malformed email", 'mutation { createPerson(input: { person: { email: "nobody" } }) { person { id } } }', {}],
  ])("%s is INVALID_INPUT", async (_label, query, variables) => {
    const response = await graphql(server, query, { token: tokenFor(orgA, "member"), variables });
    expect(response.body.errors?.[0]?.extensions?.code).toBe("INVALID_INPUT");
    expect(response.body.errors?.[0]?.message).not.toBe("");
    expectNoLeak(response);
  });
});
