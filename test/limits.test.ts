// The limits that hold without trusted documents (README "Limits"), against the real server and
// PostgreSQL: each refusal with its code and a message naming the limit, the legitimate case
// beside it, the tighter limits of anonymous requests, and one log line per refusal.
import { memberToken } from "./helpers/tokens.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrganisation, ownerPool, type TestOrganisation } from "./helpers/database.ts";
import { graphql } from "./helpers/http-server.ts";
import {
  aliasBomb,
  fanOut,
  fragmentBomb,
  seedFanOutTenant,
  startLoggedServer,
  type LoggedServer,
} from "./helpers/limits.ts";

const owner = ownerPool();
let logged: LoggedServer;
let org: TestOrganisation;
let token: string;

beforeAll(async () => {
  logged = await startLoggedServer();
  org = await createOrganisation(owner, "limits");
  await seedFanOutTenant(owner, org.id, 20);
  token = memberToken(org, "member");
});

afterAll(async () => {
  await logged?.server.close();
  await owner.end();
});

const ask = (query: string, options: { variables?: Record<string, unknown>; anonymous?: boolean } = {}) =>
  graphql(logged.server, query, { variables: options.variables, token: options.anonymous ? undefined : token });

function expectRefused(response: Awaited<ReturnType<typeof ask>>, code: string, message: RegExp) {
  expect(response.body.data ?? null).toBeNull();
  expect(response.body.errors?.[0]?.extensions?.code, response.text).toBe(code);
  expect(response.body.errors?.[0]?.message).toMatch(message);
}

/** companies → positions(first: 1) → company → … nested `levels` times: depth 3 × levels + 3. */
const deep = (levels: number) => fanOut(1, levels).replace("query Fanout", "query Deep");

describe("depth (fragments expanded)", () => {
  it("refuses a member's operation deeper than 20 levels, and runs one of 20", async () => {
    expectRefused(await ask(deep(6)), "DEPTH_LIMIT_EXCEEDED", /21 levels of nesting.*limit of 20.*LIMITS_MAX_DEPTH/);
    const allowed = await ask(deep(5));
    expect(allowed.body.errors).toBeUndefined();
    expect(allowed.body.data?.companies.nodes).toHaveLength(1);
  });

  it("counts the depth of fragments where they are spread", async () => {
    const viaFragments = `query { companies { nodes { ...A } } }
      fragment A on Company { positions(first: 1) { nodes { company { ...B } } } }
      fragment B on Company { positions(first: 1) { nodes { company { ...C } } } }
      fragment C on Company { positions(first: 1) { nodes { company { ...D } } } }
      fragment D on Company { positions(first: 1) { nodes { company { ...E } } } }
      fragment E on Company { positions(first: 1) { nodes { company { ...F } } } }
      fragment F on Company { positions(first: 1) { nodes { company { name } } } }`;
    expectRefused(await ask(viaFragments), "DEPTH_LIMIT_EXCEEDED", /21 levels/);
    const withoutF = viaFragments.replace("...F", "name").replace(/fragment F .*$/, "");
    expect((await ask(withoutF)).body.errors).toBeUndefined();
  });

  it("is tighter for anonymous requests (15), which still get their own answer below it", async () => {
    expectRefused(
      await ask(deep(5), { anonymous: true }),
      "DEPTH_LIMIT_EXCEEDED",
      /18 levels.*limit of 15 for anonymous requests.*LIMITS_ANONYMOUS_MAX_DEPTH/,
    );
    // Below the limit the request goes on to the permission check: anonymous callers read nothing.
    const below = await ask(deep(4), { anonymous: true });
    expect(below.body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("aliases and root fields", () => {
  const aliased = (count: number) =>
    `{ people(first: 1) { nodes { ${Array.from({ length: count }, (_, i) => `e${i}: email`).join(" ")} } } }`;

  it("refuses more than 50 aliases for a member, and runs 50", async () => {
    expectRefused(await ask(aliased(51)), "ALIAS_LIMIT_EXCEEDED", /51 aliased fields.*limit of 50.*LIMITS_MAX_ALIASES/);
    expect((await ask(aliased(50))).body.data?.people.nodes).toHaveLength(1);
  });

  it("counts aliases inside fragments once per spread, without expanding a fragment bomb", async () => {
    const started = Date.now();
    const response = await ask(fragmentBomb(4, 40)); // 4^40 aliases once expanded
    expectRefused(response, "DEPTH_LIMIT_EXCEEDED", /too many|levels/);
    expectRefused(await ask(fragmentBomb(4, 4)), "ALIAS_LIMIT_EXCEEDED", /340 aliased fields/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses more than 10 aliases for anonymous requests", async () => {
    const anonymous = (count: number) =>
      `{ ${Array.from({ length: count }, (_, i) => `t${i}: __typename`).join(" ")} }`;
    expectRefused(await ask(anonymous(11), { anonymous: true }), "ALIAS_LIMIT_EXCEEDED", /limit of 10 for anonymous/);
    expect((await ask(anonymous(5), { anonymous: true })).body.data).toEqual({
      t0: "Query",
      t1: "Query",
      t2: "Query",
      t3: "Query",
      t4: "Query",
    });
  });

  it("refuses more than 20 root fields for a member (5 anonymous), and runs 20", async () => {
    const roots = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `r${i}: __typename`).join(" ")} }`;
    expectRefused(
      await ask(roots(21)),
      "ROOT_FIELD_LIMIT_EXCEEDED",
      /21 root fields.*limit of 20.*LIMITS_MAX_ROOT_FIELDS/,
    );
    expect(Object.keys((await ask(roots(20))).body.data ?? {})).toHaveLength(20);
    expectRefused(
      await ask("{ __typename a: __typename b: __typename c: __typename d: __typename e: __typename }", {
        anonymous: true,
      }),
      "ROOT_FIELD_LIMIT_EXCEEDED",
      /6 root fields.*limit of 5 for anonymous/,
    );
  });
});

describe("operations per document", () => {
  const operations = (count: number) =>
    Array.from({ length: count }, (_, i) => `query Q${i} { __typename }`).join("\n");

  it("refuses a document of more than 100 operations, and runs one of 100", async () => {
    const refused = await graphql(logged.server, operations(101), { token });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe("OPERATION_LIMIT_EXCEEDED");
    expect(refused.body.errors?.[0]?.message).toMatch(/101 operations.*limit of 100.*LIMITS_MAX_OPERATIONS/);
    const response = await fetch(`${logged.server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: operations(100), operationName: "Q99" }),
    });
    expect(await response.json()).toEqual({ data: { __typename: "Query" } });
  });
});

describe("page sizes", () => {
  it("refuses first: 1000000 and first: -1 with INVALID_INPUT, literal or variable; first: 1000 runs", async () => {
    expectRefused(
      await ask("{ people(first: 1000000) { nodes { id } } }"),
      "INVALID_INPUT",
      /1000000, above the maximum page size of 1000/,
    );
    expectRefused(
      await ask("{ people(first: -1) { nodes { id } } }"),
      "INVALID_INPUT",
      /`first` of `people` must not be negative/,
    );
    expectRefused(
      await ask("query($n: Int) { people(last: $n) { nodes { id } } }", { variables: { n: 2147483647 } }),
      "INVALID_INPUT",
      /`last` of `people` is 2147483647/,
    );
    expect((await ask("{ people(first: 1000) { nodes { id } } }")).body.data?.people.nodes).toHaveLength(20);
    expect(
      (await ask("query($n: Int) { people(first: $n) { nodes { id } } }", { variables: { n: 3 } })).body.data?.people
        .nodes,
    ).toHaveLength(3);
  });

  it("refuses a negative offset and offset with last; offset alone runs", async () => {
    expectRefused(
      await ask("{ people(offset: -5) { nodes { id } } }"),
      "INVALID_INPUT",
      /`offset` of `people` must not be negative/,
    );
    expectRefused(
      await ask("{ people(last: 2, offset: 1) { nodes { id } } }"),
      "INVALID_INPUT",
      /`offset` cannot be combined with `last`/,
    );
    expect((await ask("{ people(first: 2, offset: 1) { nodes { id } } }")).body.data?.people.nodes).toHaveLength(2);
  });

  it("refuses a malformed cursor; a cursor of a previous page runs", async () => {
    expectRefused(
      await ask('{ people(first: 2, after: "not-a-cursor") { nodes { id } } }'),
      "INVALID_INPUT",
      /`after` of `people` is not a cursor/,
    );
    expectRefused(
      await ask("query($c: Cursor) { people(first: 2, before: $c) { nodes { id } } }", {
        variables: { c: "bm90IGpzb24=" },
      }),
      "INVALID_INPUT",
      /`before` of `people` is not a cursor/,
    );
    const first = await ask("{ people(first: 2, orderBy: EMAIL_ASC) { pageInfo { endCursor } nodes { id } } }");
    const cursor = first.body.data?.people.pageInfo.endCursor as string;
    const next = await ask("query($c: Cursor) { people(first: 2, orderBy: EMAIL_ASC, after: $c) { nodes { id } } }", {
      variables: { c: cursor },
    });
    expect(next.body.errors).toBeUndefined();
    expect(next.body.data?.people.nodes).toHaveLength(2);
    expect(next.body.data?.people.nodes[0].id).not.toBe(first.body.data?.people.nodes[0].id);
    // A well-formed cursor of another ordering is the client's mistake too: INVALID_INPUT, not a bare error.
    const otherOrder = await ask(
      "query($c: Cursor) { people(first: 2, orderBy: CREATED_AT_DESC, after: $c) { nodes { id } } }",
      { variables: { c: cursor } },
    );
    expect(otherOrder.body.errors?.[0]?.extensions?.code).toBe("INVALID_INPUT");
    expect(otherOrder.body.errors?.[0]?.message).toMatch(/cursor/);
  });
});

describe("empty patches", () => {
  it("refuses an empty patch with INVALID_INPUT (literal or variable); a patch naming a field runs", async () => {
    const { rows } = await owner.query<{ id: string }>("select id from crm.people where organisation_id = $1 limit 1", [
      org.id,
    ]);
    const id = rows[0]!.id;
    expectRefused(
      await ask(`mutation { updatePerson(input: { id: "${id}", patch: {} }) { person { id } } }`),
      "INVALID_INPUT",
      /the patch of `updatePerson` is empty/,
    );
    expectRefused(
      await ask("mutation($input: UpdatePersonInput!) { updatePerson(input: $input) { person { id } } }", {
        variables: { input: { id, patch: {} } },
      }),
      "INVALID_INPUT",
      /patch of `updatePerson` is empty/,
    );
    const updated = await ask(
      `mutation { updatePerson(input: { id: "${id}", patch: { lastName: "Patched" } }) { person { lastName } } }`,
    );
    expect(updated.body.data?.updatePerson.person.lastName).toBe("Patched");
  });
});

describe("cost estimate", () => {
  it("refuses the issue's fan-out (positions(first: 100) three levels deep) before execution", async () => {
    const started = Date.now();
    const refused = await ask(fanOut(100));
    expectRefused(
      refused,
      "COST_LIMIT_EXCEEDED",
      /estimated cost of this operation is \d+, above the limit of 100000.*LIMITS_MAX_COST/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    // The same shape with small pages runs, and its rows are all there.
    const small = await ask(fanOut(3));
    expect(small.body.errors).toBeUndefined();
    expect(small.body.data?.companies.nodes[0].positions.nodes).toHaveLength(3);
  });

  it("resolves variables: the same document is refused with $n = 100 and runs with $n = 5", async () => {
    expectRefused(
      await ask(fanOut("$n"), { variables: { n: 100 } }),
      "COST_LIMIT_EXCEEDED",
      /above the limit of 100000/,
    );
    const allowed = await ask(fanOut("$n"), { variables: { n: 5 } });
    expect(allowed.body.errors).toBeUndefined();
  });

  it("counts a connection without first/last at its default page size (100), so nesting them is refused", async () => {
    const unpaged =
      "{ companies { nodes { positions { nodes { company { positions { nodes { person { positions { nodes { id } } } } } } } } } } }";
    expectRefused(
      await ask(unpaged),
      "COST_LIMIT_EXCEEDED",
      /a list without `first` counts as its default page size, 100/,
    );
    expect((await ask("{ companies { nodes { positions { nodes { jobTitle } } } } }")).body.errors).toBeUndefined();
  });

  it("refuses more fields than the cost limit before validation (duplicated fields, spreads), anonymous and signed in", async () => {
    const duplicated = (count: number) => `{ people(first: 1) { nodes { ${"email ".repeat(count)} } } }`;
    expectRefused(
      await ask(duplicated(6000), { anonymous: true }),
      "COST_LIMIT_EXCEEDED",
      /6002 fields \(fragments expanded\), above the cost limit of 5000 for anonymous/,
    );
    const spreads = `{ people(first: 1) { nodes { ${"...F ".repeat(15000)} } } } fragment F on Person { email }`;
    expectRefused(await ask(spreads, { anonymous: true }), "COST_LIMIT_EXCEEDED", /15002 fields/);
    expectRefused(await ask(duplicated(100_001)), "BODY_TOO_LARGE", /bytes/);
    // Duplicates within the limit merge and run.
    expect((await ask(duplicated(50))).body.data?.people.nodes).toHaveLength(1);
  });

  it("is tighter for anonymous requests (5000)", async () => {
    expectRefused(
      await ask("{ people(first: 1000) { nodes { id email firstName lastName status } } }", { anonymous: true }),
      "COST_LIMIT_EXCEEDED",
      /limit of 5000 for anonymous requests.*LIMITS_ANONYMOUS_MAX_COST/,
    );
    // Within it, an anonymous request goes on (and reads nothing: FORBIDDEN).
    const within = await ask("{ people(first: 10) { nodes { id } } }", { anonymous: true });
    expect(within.body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("default page size", () => {
  it("returns at most 100 rows without first/last (or with a null first), all rows' count, and last as asked", async () => {
    const large = await createOrganisation(owner, "limits-large");
    await seedFanOutTenant(owner, large.id, 150);
    const largeToken = memberToken(large, "member");
    const read = (query: string, variables: Record<string, unknown> = {}) =>
      graphql(logged.server, query, { token: largeToken, variables });
    const unpaged = await read("{ people { totalCount pageInfo { hasNextPage } nodes { id } } }");
    expect(unpaged.body.data?.people).toMatchObject({ totalCount: 150, pageInfo: { hasNextPage: true } });
    expect(unpaged.body.data?.people.nodes).toHaveLength(100);
    const nullFirst = await read("query($n: Int) { people(first: $n) { nodes { id } } }", { n: null });
    expect(nullFirst.body.data?.people.nodes).toHaveLength(100);
    const unset = await read("query($n: Int) { people(first: $n) { nodes { id } } }");
    expect(unset.body.data?.people.nodes).toHaveLength(100);
    // Nested connections too; and asking for more, up to the maximum, still works.
    const nested = await read("{ companies(first: 1) { nodes { positions { nodes { id } } } } }");
    expect(nested.body.data?.companies.nodes[0].positions.nodes).toHaveLength(100);
    expect((await read("{ people(first: 150) { nodes { id } } }")).body.data?.people.nodes).toHaveLength(150);
    expect((await read("{ people(last: 5) { nodes { id } } }")).body.data?.people.nodes).toHaveLength(5);
  });
});

describe("body size", () => {
  it("refuses a body above 100000 bytes with 413 BODY_TOO_LARGE; a large body below it runs", async () => {
    const padding = (bytes: number) => `{ __typename }\n#${"x".repeat(bytes)}`;
    const refused = await ask(padding(100_001));
    expect(refused.status).toBe(413);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe("BODY_TOO_LARGE");
    expect(refused.body.errors?.[0]?.message).toMatch(/larger than 100000 bytes.*LIMITS_MAX_BODY_BYTES/);
    expect((await ask(padding(90_000))).body.data).toEqual({ __typename: "Query" });
  });
});

describe("introspection outside production", () => {
  it("is allowed to anonymous callers in development and tests (GraphiQL)", async () => {
    const response = await ask("{ __schema { queryType { name } } }", { anonymous: true });
    expect(response.body.data).toEqual({ __schema: { queryType: { name: "Query" } } });
  });
});

describe("bombs", () => {
  it("refuses the issue's alias bomb (1,000 and 2,000 aliases), anonymous and signed in, within seconds", async () => {
    const started = Date.now();
    expectRefused(await ask(aliasBomb(1000), { anonymous: true }), "ALIAS_LIMIT_EXCEEDED", /1000 aliased fields/);
    expectRefused(await ask(aliasBomb(2000)), "ALIAS_LIMIT_EXCEEDED", /2000 aliased fields/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses the issue's fragment bomb (6 deep, 4 wide), anonymous and signed in, within seconds", async () => {
    const started = Date.now();
    for (const anonymous of [true, false]) {
      const response = await ask(fragmentBomb(4, 6, anonymous ? "anon" : "member"), { anonymous });
      expect(["DEPTH_LIMIT_EXCEEDED", "ALIAS_LIMIT_EXCEEDED"]).toContain(response.body.errors?.[0]?.extensions?.code);
    }
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("logging", () => {
  it("logs each refusal as JSON with its code, the document's hash and operation name, never its text or variables", async () => {
    const before = logged.lines().length;
    await ask(fanOut("$n"), { variables: { n: 100 } });
    const lines = logged.lines().slice(before);
    const refusal = lines.find((line) => line.code === "COST_LIMIT_EXCEEDED");
    expect(refusal).toMatchObject({ msg: "GraphQL request refused", operationName: "Fanout", limit: 100000 });
    expect(refusal?.documentHash).toMatch(/^[0-9a-f]{64}$/);
    const text = JSON.stringify(lines);
    expect(text).not.toContain("positions(first");
    expect(text).not.toContain('"n"');
  });
});

describe("planning timeout", () => {
  it("aborts planning that takes longer than LIMITS_PLANNING_TIMEOUT_MS with PLANNING_TIMEOUT; other requests still run", async () => {
    // The other limits raised out of the way, so that only the planning timeout stands.
    const loose = await startLoggedServer({
      LIMITS_PLANNING_TIMEOUT_MS: "20",
      LIMITS_MAX_DEPTH: "1000",
      LIMITS_MAX_ALIASES: "100000",
      LIMITS_MAX_ROOT_FIELDS: "10000",
      LIMITS_MAX_COST: "1000000000",
    });
    try {
      const started = Date.now();
      const response = await graphql(loose.server, fragmentBomb(4, 3, "timeout"), { token });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(response.body.errors?.[0]?.extensions?.code, response.text).toBe("PLANNING_TIMEOUT");
      expect(response.body.errors?.[0]?.message).toMatch(/longer than 20 ms \(LIMITS_PLANNING_TIMEOUT_MS\)/);
      expect(loose.lines().some((line) => line.code === "PLANNING_TIMEOUT")).toBe(true);
      const trivial = await graphql(loose.server, "{ people(first: 1) { totalCount } }", { token });
      expect(trivial.body.data).toEqual({ people: { totalCount: 20 } });
    } finally {
      await loose.server.close();
    }
  });
});
