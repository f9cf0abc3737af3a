// Throttling, as an attacker meets it: wrong passwords lock one account for a while (then the
// right one works again), one address cannot log in or sign up without end, the counters are
// shared by every server of one database, and password hashing never runs more than a few at once
// while other tenants keep being served. Each test is its own client address (X-Forwarded-For,
// believed because TRUST_PROXY names the loopback) and its own accounts.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";
import type { RunningServer } from "../src/server.ts";
import { throttledAddress } from "../src/throttling/client-address.ts";
import { createOrganisation, ownerPool, testDatabase, type TestOrganisation } from "./helpers/database.ts";
import { startTestServer } from "./helpers/http-server.ts";
import { createScratchDatabase } from "./helpers/scratch-database.ts";
import { startServerFor } from "./helpers/server-for-database.ts";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.ts";
import { memberToken } from "./helpers/tokens.ts";

const owner = ownerPool();
const PASSWORD = "correct-horse-battery-9";
const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(input: { email: $email, password: $password }) { token } }`;
const REGISTER = `mutation Register($email: String!, $name: String!) {
  register(input: { email: $email, password: "${PASSWORD}", organisationName: $name }) { message } }`;

const THROTTLE = {
  THROTTLING: "on",
  TRUST_PROXY: "loopback",
  LOGIN_MAX_FAILURES: "3",
  LOGIN_FAILURE_WINDOW_SECONDS: "60",
  LOGIN_LOCKOUT_SECONDS: "3",
  LOGIN_PER_ADDRESS_PER_MINUTE: "8",
  REGISTER_PER_ADDRESS_PER_HOUR: "2",
  ANONYMOUS_MUTATIONS_PER_ADDRESS_PER_MINUTE: "30",
};

let server: RunningServer;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  };
}

/** A client address of the test's own (documentation range 198.51.100.0/24 plus random bits). */
const newAddress = () => `198.51.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;

async function post(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: (await response.json()) as Answer["body"],
  };
}

const from = (address: string) => ({ "x-forwarded-for": address });
const codeOf = (answer: Answer) => answer.body.errors?.[0]?.extensions?.code;

/** A user with a password, an active member of one organisation; returns its email. */
async function accountWithPassword(label: string): Promise<{ email: string; org: TestOrganisation }> {
  const org = await createOrganisation(owner, label);
  await owner.query("select app_hidden.set_password($1, $2)", [org.users.member, PASSWORD]);
  return { email: org.emails.member, org };
}

beforeAll(async () => {
  server = await startTestServer(THROTTLE);
});

afterAll(async () => {
  await server?.close();
  await owner.end();
});

describe("login, per account", () => {
  it("locks an account after 3 wrong passwords, says for how long, and lets the right password in after it", async () => {
    const { email } = await accountWithPassword("lockout");
    const address = newAddress();
    for (let i = 0; i < 3; i++) {
      const wrong = await post(server.url, LOGIN, { email, password: `wrong-password-${i}` }, from(address));
      expect(codeOf(wrong)).toBe("INVALID_CREDENTIALS");
    }
    // Locked: even the right password is refused, from any address, with the time left.
    const locked = await post(server.url, LOGIN, { email, password: PASSWORD }, from(newAddress()));
    expect(locked.status).toBe(429);
    expect(codeOf(locked)).toBe("RATE_LIMITED");
    expect(locked.body.errors?.[0]?.message).toMatch(/failed logins for this account .*try again in [1-3] s/);
    expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(locked.retryAfter)).toBeLessThanOrEqual(3);
    expect(locked.body.data ?? null).toBeNull();

    // Beside it, another account from the same address is not affected.
    const other = await accountWithPassword("lockout-other");
    const fine = await post(server.url, LOGIN, { email: other.email, password: PASSWORD }, from(address));
    expect(fine.status).toBe(200);
    expect(typeof (fine.body.data?.login as { token?: unknown })?.token).toBe("string");

    // After the lockout (3 s here), the right password works, and the count starts again.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const after = await post(server.url, LOGIN, { email, password: PASSWORD }, from(address));
    expect(after.body.errors).toBeUndefined();
    expect(typeof (after.body.data?.login as { token?: unknown })?.token).toBe("string");
  });

  it("counts the email whatever its case and spacing, given inline or as a variable", async () => {
    const { email } = await accountWithPassword("lockout-case");
    const address = newAddress();
    const inline = (password: string, spelling: string) =>
      post(
        server.url,
        `mutation { login(input: { email: "${spelling}", password: "${password}" }) { token } }`,
        {},
        from(address),
      );
    expect(codeOf(await inline("wrong-1x", ` ${email.toUpperCase()} `))).toBe("INVALID_CREDENTIALS");
    expect(codeOf(await inline("wrong-2x", email))).toBe("INVALID_CREDENTIALS");
    expect(codeOf(await post(server.url, LOGIN, { email, password: "wrong-3x" }, from(address)))).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(codeOf(await inline(PASSWORD, email))).toBe("RATE_LIMITED");
  });

  it("counts an email given as a variable's default value, or inside an input variable", async () => {
    const { email } = await accountWithPassword("lockout-default");
    const address = newAddress();
    const byDefault = `mutation($e: String! = "${email}") { login(input: { email: $e, password: "wrong-1-x" }) { token } }`;
    const byInput = `mutation($input: LoginInput!) { login(input: $input) { token } }`;
    expect(codeOf(await post(server.url, byDefault, {}, from(address)))).toBe("INVALID_CREDENTIALS");
    expect(codeOf(await post(server.url, byInput, { input: { email, password: "wrong-2-x" } }, from(address)))).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(codeOf(await post(server.url, byDefault, {}, from(address)))).toBe("INVALID_CREDENTIALS");
    expect(codeOf(await post(server.url, LOGIN, { email, password: PASSWORD }, from(address)))).toBe("RATE_LIMITED");
  });

  it("a successful login clears the failures", async () => {
    const { email } = await accountWithPassword("lockout-reset");
    const address = newAddress();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) {
        expect(codeOf(await post(server.url, LOGIN, { email, password: `nope-${i}-x` }, from(address)))).toBe(
          "INVALID_CREDENTIALS",
        );
      }
      const ok = await post(server.url, LOGIN, { email, password: PASSWORD }, from(address));
      expect(ok.body.errors).toBeUndefined();
    }
  });

  it("a skipped login in the same document does not count as a success (@skip/@include cannot reset the failures)", async () => {
    const { email } = await accountWithPassword("lockout-skip");
    const address = newAddress();
    const withSkipped = `mutation($email: String!, $skip: Boolean!) {
      a: login(input: { email: $email, password: "wrong-a-1" }) { token }
      b: login(input: { email: $email, password: "wrong-b-1" }) @skip(if: $skip) { token }
      c: login(input: { email: $email, password: "never-run" }) @include(if: false) { token } }`;
    const answers: Answer[] = [];
    for (let i = 0; i < 3; i++)
      answers.push(await post(server.url, withSkipped, { email, skip: false }, from(address)));
    // 3 failures allowed: the first request's two count, the second's two would exceed it. Before the
    // fix, the skipped `c` counted as a success and cleared them: every request was served.
    expect(answers.map(codeOf)).toEqual(["INVALID_CREDENTIALS", "RATE_LIMITED", "RATE_LIMITED"]);
    // With the skip taken, nothing clears the lock either.
    const skipped = await post(server.url, withSkipped, { email, skip: true }, from(newAddress()));
    expect(codeOf(skipped)).toBe("RATE_LIMITED");
    // The legitimate case beside it: another account's plain wrong-then-right login still works.
    const other = await accountWithPassword("lockout-skip-other");
    expect(codeOf(await post(server.url, LOGIN, { email: other.email, password: "nope-1-x" }, from(address)))).toBe(
      "INVALID_CREDENTIALS",
    );
  });

  it("answers other than INVALID_CREDENTIALS (a wrong organisation) are not failures", async () => {
    const { email } = await accountWithPassword("lockout-other-kind");
    const address = newAddress();
    const withOrganisation = `mutation($email: String!, $password: String!) {
      login(input: { email: $email, password: $password, organisation: "no-such-organisation" }) { token } }`;
    for (let i = 0; i < 4; i++) {
      expect(codeOf(await post(server.url, withOrganisation, { email, password: PASSWORD }, from(address)))).toBe(
        "UNKNOWN_ORGANISATION",
      );
    }
    const ok = await post(server.url, LOGIN, { email, password: PASSWORD }, from(address));
    expect(ok.body.errors).toBeUndefined();
  });

  it("a request refused for one account gives back what it counted for another", async () => {
    const locked = await accountWithPassword("lockout-locked");
    const bystander = await accountWithPassword("lockout-bystander");
    const address = newAddress();
    for (let i = 0; i < 3; i++)
      await post(server.url, LOGIN, { email: locked.email, password: `wrong-${i}-x` }, from(address));
    const both = await post(
      server.url,
      `mutation($a: String!, $b: String!) {
        first: login(input: { email: $a, password: "wrong-1-x" }) { token }
        second: login(input: { email: $b, password: "wrong-2-x" }) { token } }`,
      { a: bystander.email, b: locked.email },
      from(address),
    );
    expect(codeOf(both)).toBe("RATE_LIMITED");
    // The bystander still has all 3 attempts: 2 wrong ones, then the right one works.
    const later = newAddress();
    for (let i = 0; i < 2; i++) {
      expect(
        codeOf(await post(server.url, LOGIN, { email: bystander.email, password: `no-${i}-x` }, from(later))),
      ).toBe("INVALID_CREDENTIALS");
    }
    const ok = await post(server.url, LOGIN, { email: bystander.email, password: PASSWORD }, from(later));
    expect(ok.body.errors).toBeUndefined();
  });

  it("aliases in one request count once each: four logins of one account in one document are refused", async () => {
    const { email } = await accountWithPassword("lockout-alias");
    const aliases = [1, 2, 3, 4]
      .map((i) => `a${i}: login(input: { email: $email, password: "wrong-${i}-x" }) { token }`)
      .join("\n");
    const answer = await post(server.url, `mutation($email: String!) { ${aliases} }`, { email }, from(newAddress()));
    expect(answer.status).toBe(429);
    expect(codeOf(answer)).toBe("RATE_LIMITED");
  });
});

describe("per client address", () => {
  it("refuses the 9th login attempt of a minute from one address; another address still logs in", async () => {
    const address = newAddress();
    for (let i = 0; i < 8; i++) {
      const attempt = await post(
        server.url,
        LOGIN,
        { email: `nobody-${i}-${randomBytes(3).toString("hex")}@example.test`, password: "whatever-1" },
        from(address),
      );
      expect(codeOf(attempt)).toBe("INVALID_CREDENTIALS");
    }
    const { email } = await accountWithPassword("per-address");
    const refused = await post(server.url, LOGIN, { email, password: PASSWORD }, from(address));
    expect(refused.status).toBe(429);
    expect(codeOf(refused)).toBe("RATE_LIMITED");
    expect(refused.body.errors?.[0]?.message).toMatch(/login attempts from your address/);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);

    const elsewhere = await post(server.url, LOGIN, { email, password: PASSWORD }, from(newAddress()));
    expect(elsewhere.body.errors).toBeUndefined();
  });

  it("limits password reset requests per address even with a token; another address is still served", async () => {
    const org = await createOrganisation(owner, "reset-flood");
    const authorization = { authorization: `Bearer ${memberToken(org, "member")}` };
    const address = newAddress();
    const resets = (offset: number) =>
      `mutation { ${Array.from(
        { length: 15 },
        (_, i) =>
          `r${i}: requestPasswordReset(input: { email: "stranger-${offset + i}-${randomBytes(3).toString("hex")}@example.test" }) { message }`,
      ).join(" ")} }`;
    // 30 an hour per address: two requests of 15 pass, the third is refused although signed in.
    for (const offset of [0, 15]) {
      const served = await post(server.url, resets(offset), {}, { ...from(address), ...authorization });
      expect(served.body.errors).toBeUndefined();
    }
    const refused = await post(server.url, resets(30), {}, { ...from(address), ...authorization });
    expect(refused.status).toBe(429);
    expect(codeOf(refused)).toBe("RATE_LIMITED");
    expect(refused.body.errors?.[0]?.message).toMatch(/password reset requests from your address/);
    const elsewhere = await post(server.url, resets(45), {}, { ...from(newAddress()), ...authorization });
    expect(elsewhere.body.errors).toBeUndefined();
  });

  it("refuses the 3rd sign-up of an hour from one address; another address signs up", async () => {
    const address = newAddress();
    const signUp = (at: string) =>
      post(
        server.url,
        REGISTER,
        {
          email: `signup-${randomBytes(4).toString("hex")}@example.test`,
          name: `Signup ${randomBytes(3).toString("hex")}`,
        },
        from(at),
      );
    for (let i = 0; i < 2; i++) expect((await signUp(address)).body.errors).toBeUndefined();
    const refused = await signUp(address);
    expect(refused.status).toBe(429);
    expect(codeOf(refused)).toBe("RATE_LIMITED");
    expect(refused.body.errors?.[0]?.message).toMatch(/sign-ups from your address/);
    expect((await signUp(newAddress())).body.errors).toBeUndefined();
  });

  it("an address over the anonymous-mutation limit is then refused before its body is read; with a token it is served", async () => {
    const address = newAddress();
    const attempt = () =>
      post(
        server.url,
        LOGIN,
        { email: `flood-${randomBytes(4).toString("hex")}@example.test`, password: "x-1234567890" },
        from(address),
      );
    const codes = [];
    for (let i = 0; i < 31; i++) codes.push(codeOf(await attempt()));
    expect(codes.slice(0, 8)).toEqual(Array(8).fill("INVALID_CREDENTIALS"));
    expect(codes.slice(8)).toEqual(Array(23).fill("RATE_LIMITED"));
    // Not even parsed: a broken body gets the same 429 (it would be 400 otherwise).
    const broken = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...from(address) },
      body: "{ not json",
    });
    expect(broken.status).toBe(429);
    expect(Number(broken.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await broken.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe("RATE_LIMITED");
    const elsewhere = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...from(newAddress()) },
      body: "{ not json",
    });
    expect(elsewhere.status).toBe(400);

    const org = await createOrganisation(owner, "flooded-address");
    const signedIn = await post(
      server.url,
      "{ people { totalCount } }",
      {},
      {
        ...from(address),
        authorization: `Bearer ${memberToken(org, "viewer")}`,
      },
    );
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.errors).toBeUndefined();
  });

  it("signed-in mutations are not counted as anonymous ones", async () => {
    const org = await createOrganisation(owner, "signed-in");
    const address = newAddress();
    const token = memberToken(org, "member");
    for (let i = 0; i < 31; i++) {
      const answer = await post(
        server.url,
        `mutation($name: String!) { createCompany(input: { company: { name: $name } }) { company { id } } }`,
        { name: `Company ${i}` },
        { ...from(address), authorization: `Bearer ${token}` },
      );
      expect(answer.body.errors).toBeUndefined();
    }
  });
});

describe("across server processes", () => {
  let first: ServerProcess | undefined;
  let second: ServerProcess | undefined;

  afterAll(async () => {
    await Promise.all([first?.terminate(), second?.terminate()]);
  });

  it("failures counted by one server lock the account on the other (one database, two processes)", async () => {
    const { urls } = testDatabase();
    const environment = {
      ...THROTTLE,
      NODE_ENV: "test",
      DATABASE_URL: urls.ownerUrl,
      AUTH_DATABASE_URL: urls.authenticatorUrl,
      JWT_SECRET: "test-secret-that-is-long-enough-for-hs256-0123456789",
      DEMO_DATA: "off",
      LOGIN_LOCKOUT_SECONDS: "60",
    };
    // One after the other: both apply the (already applied) migrations at start, and graphile-migrate
    // refuses a second migrator while the first holds its lock.
    first = await startServerProcess(environment);
    second = await startServerProcess(environment);
    const { email } = await accountWithPassword("two-servers");
    const address = newAddress();
    expect(codeOf(await post(first.url, LOGIN, { email, password: "wrong-a-1" }, from(address)))).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(codeOf(await post(second.url, LOGIN, { email, password: "wrong-b-1" }, from(address)))).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(codeOf(await post(first.url, LOGIN, { email, password: "wrong-a-2" }, from(address)))).toBe(
      "INVALID_CREDENTIALS",
    );
    const onSecond = await post(second.url, LOGIN, { email, password: PASSWORD }, from(address));
    expect(onSecond.status).toBe(429);
    expect(codeOf(onSecond)).toBe("RATE_LIMITED");
    expect(Number(onSecond.retryAfter)).toBeGreaterThan(50);
    const onFirst = await post(first.url, LOGIN, { email, password: PASSWORD }, from(address));
    expect(codeOf(onFirst)).toBe("RATE_LIMITED");

    // The other server still serves other accounts.
    const other = await accountWithPassword("two-servers-other");
    expect(
      (await post(second.url, LOGIN, { email: other.email, password: PASSWORD }, from(address))).body.errors,
    ).toBeUndefined();
  });
});

describe("password hashing, bounded per instance", () => {
  let busy: RunningServer;
  beforeAll(async () => {
    // One hashing slot and no queue: a second concurrent login is refused at once.
    busy = await startTestServer({ PASSWORD_HASH_CONCURRENCY: "1", PASSWORD_HASH_QUEUE_MS: "0" });
  });
  afterAll(async () => {
    await busy?.close();
  });

  it("refuses logins beyond the slots with SERVICE_BUSY (503, Retry-After), while another tenant's query answers", async () => {
    const { email } = await accountWithPassword("hash-busy");
    const bystander = await createOrganisation(owner, "hash-bystander");
    const storm = Array.from({ length: 12 }, (_, i) =>
      post(busy.url, LOGIN, { email, password: i === 0 ? PASSWORD : `wrong-${i}-x` }),
    );
    const started = Date.now();
    const trivial = await post(
      busy.url,
      "{ people { totalCount } }",
      {},
      { authorization: `Bearer ${memberToken(bystander, "viewer")}` },
    );
    expect(trivial.body.errors).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(5_000);
    const answers = await Promise.all(storm);
    const busyAnswers = answers.filter((answer) => codeOf(answer) === "SERVICE_BUSY");
    expect(busyAnswers.length).toBeGreaterThan(0);
    for (const answer of busyAnswers) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe("1");
    }
    // The ones that got a slot ran normally.
    expect(
      answers.filter((answer) => codeOf(answer) === "INVALID_CREDENTIALS" || answer.body.data?.login).length,
    ).toBeGreaterThan(0);
  });

  it("with the default queue, the same storm is served in turn: no refusal", async () => {
    const queued = await startTestServer({ PASSWORD_HASH_CONCURRENCY: "1", PASSWORD_HASH_QUEUE_MS: "10000" });
    try {
      const { email } = await accountWithPassword("hash-queued");
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => post(queued.url, LOGIN, { email, password: `wrong-${i}-x` })),
      );
      expect(answers.map(codeOf)).toEqual(Array(6).fill("INVALID_CREDENTIALS"));
    } finally {
      await queued.close();
    }
  });
});

describe("client address", () => {
  it("without TRUST_PROXY, X-Forwarded-For is ignored: varying it does not escape the per-address limit", async () => {
    const strict = await startTestServer({ ...THROTTLE, TRUST_PROXY: "", LOGIN_PER_ADDRESS_PER_MINUTE: "3" });
    try {
      const answers = [];
      for (let i = 0; i < 4; i++) {
        answers.push(
          await post(
            strict.url,
            LOGIN,
            { email: `spoof-${randomBytes(4).toString("hex")}@example.test`, password: "whatever-1" },
            from(newAddress()),
          ),
        );
      }
      // The socket's address (127.0.0.1) is shared with the rest of this file's tests on this
      // server only; three attempts pass, the fourth is refused whatever X-Forwarded-For says.
      expect(answers.slice(0, 3).map(codeOf)).toEqual([
        "INVALID_CREDENTIALS",
        "INVALID_CREDENTIALS",
        "INVALID_CREDENTIALS",
      ]);
      expect(codeOf(answers[3]!)).toBe("RATE_LIMITED");
    } finally {
      await strict.close();
    }
  });

  it("IPv6 clients are counted per /64 (one subscriber's block); IPv4 and IPv4-mapped per address", () => {
    expect(throttledAddress("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(throttledAddress("2001:0db8:0001:0002:ffff::1")).toBe("2001:db8:1:2::/64");
    expect(throttledAddress("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(throttledAddress("2001:db8:1:3::1")).not.toBe(throttledAddress("2001:db8:1:2::1"));
    expect(throttledAddress("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(throttledAddress("192.0.2.7")).toBe("192.0.2.7");
    expect(throttledAddress("192.0.2.8")).not.toBe(throttledAddress("192.0.2.7"));
  });

  it("TRUST_PROXY is validated: true (believe anyone) and malformed entries are refused", () => {
    const base = { NODE_ENV: "test" };
    expect(() => loadConfig({ ...base, TRUST_PROXY: "true" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, TRUST_PROXY: "loopback,not-an-address" })).toThrow(/not-an-address/);
    expect(loadConfig({ ...base, TRUST_PROXY: "loopback, 10.0.0.0/8" }).trustProxy).toEqual(["loopback", "10.0.0.0/8"]);
    expect(loadConfig({ ...base, TRUST_PROXY: "1" }).trustProxy).toBe(1);
    expect(loadConfig(base).trustProxy).toBe(false);
  });
});

describe("the counters table", () => {
  it("missing (migrations not applied): production refuses to start; development counts in memory", async () => {
    // A database migrated before 000006 created app_throttle: the same, with the schema dropped.
    const scratch = await createScratchDatabase(testDatabase().serverRootUrl, "nothrottle");
    try {
      const scratchOwner = new pg.Client({ connectionString: scratch.urls.ownerUrl });
      await scratchOwner.connect();
      await scratchOwner.query("drop schema app_throttle cascade");
      await scratchOwner.end();
      const { rootUrl: _root, ...urls } = scratch.urls;
      await expect(startServerFor(urls, { NODE_ENV: "production", THROTTLING: "on" })).rejects.toThrow(
        /app_throttle\.counters/,
      );
      const development = await startServerFor(urls, { NODE_ENV: "development", THROTTLING: "on", GRAPHIQL: "off" });
      await development.close();
    } finally {
      await scratch.drop();
    }
  });
});
