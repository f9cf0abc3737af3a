// The HTTP edge as a browser and a careless client meet it: security headers on every response
// (Ruru's looser CSP on GraphiQL only), CORS for the allow-list only, HTTP-level refusals with
// codes of their own, application/json for `Accept: */*` or none, and tokens whose claims do not
// hold (no session, issued in the future, living longer than this server signs) refused with 401.
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JWT_AUDIENCE, JWT_ISSUER } from "../src/auth/jwt.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import type { RunningServer } from "../src/server.ts";
import { createOrganisation, ownerPool, type TestOrganisation } from "./helpers/database.ts";
import { startTestServer, TEST_JWT_SECRET } from "./helpers/http-server.ts";
import { memberToken } from "./helpers/tokens.ts";

const owner = ownerPool();
const ALLOWED = "https://dashboard.example.com";
let server: RunningServer;
let org: TestOrganisation;

beforeAll(async () => {
  server = await startTestServer({ CORS_ORIGINS: `${ALLOWED}, http://localhost:3000`, GRAPHIQL: "on" });
  org = await createOrganisation(owner, "edge");
});

afterAll(async () => {
  await server?.close();
  await owner.end();
});

const QUERY = JSON.stringify({ query: "{ __typename }" });
const postGraphql = (headers: Record<string, string>, body: string = QUERY, method = "POST") =>
  fetch(`${server.url}/graphql`, {
    method,
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    ...(method === "POST" ? { body } : {}),
  });

describe("security headers", () => {
  it.each(["/graphql", "/healthz", "/readyz", "/nowhere"])(
    "%s carries helmet's headers and a CSP that allows nothing",
    async (path) => {
      const response = path === "/graphql" ? await postGraphql({}) : await fetch(`${server.url}${path}`);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(response.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
      expect(response.headers.get("cross-origin-resource-policy")).toBe("same-origin");
      expect(response.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
      expect(response.headers.get("x-powered-by")).toBeNull();
    },
  );

  it("GraphiQL (development) gets the CSP Ruru needs: its own scripts and workers, nothing from elsewhere", async () => {
    const response = await fetch(`${server.url}/graphiql`, { headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/script-src 'self' 'unsafe-inline'/);
    expect(csp).toMatch(/worker-src 'self' blob:/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).not.toMatch(/\*|https?:/);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("with GRAPHIQL off, /graphiql is a 404 with the strict CSP", async () => {
    const production = await startTestServer({ GRAPHIQL: "off" });
    try {
      const response = await fetch(`${production.url}/graphiql`, { headers: { accept: "text/html" } });
      expect(response.status).toBe(404);
      expect(response.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    } finally {
      await production.close();
    }
  });

  it("the tracking pixel may be loaded cross-origin (mail clients) and still has the other headers", async () => {
    const response = await fetch(`${server.url}/t/not-a-real-token.gif`);
    expect(response.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("CORS", () => {
  it("an allowed origin gets Access-Control-Allow-Origin for itself", async () => {
    const response = await postGraphql({ origin: ALLOWED });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(response.headers.get("vary")).toMatch(/Origin/i);
  });

  it("another origin gets no CORS header (the browser refuses to show it the answer)", async () => {
    const response = await postGraphql({ origin: "https://evil.example.net" });
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("a preflight from an allowed origin is answered with the methods and headers a dashboard needs", async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: "OPTIONS",
      headers: {
        origin: ALLOWED,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(response.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect(response.headers.get("access-control-allow-headers")?.toLowerCase()).toMatch(/authorization/);
    expect(response.headers.get("access-control-max-age")).toBe("600");
  });

  it("a preflight from another origin is refused with 403 and CORS_ORIGIN_REFUSED", async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example.net", "access-control-request-method": "POST" },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe("CORS_ORIGIN_REFUSED");
  });

  it("by default no origin is allowed", async () => {
    const closed = await startTestServer();
    try {
      const response = await fetch(`${closed.url}/graphql`, {
        method: "OPTIONS",
        headers: { origin: ALLOWED, "access-control-request-method": "POST" },
      });
      expect(response.status).toBe(403);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await closed.close();
    }
  });

  it("CORS_ORIGINS is validated: an origin with a path or without a scheme is refused", () => {
    expect(() => loadConfig({ CORS_ORIGINS: "https://app.example.com/" })).toThrow(ConfigError);
    expect(() => loadConfig({ CORS_ORIGINS: "app.example.com" })).toThrow(/not an origin/);
    expect(loadConfig({ CORS_ORIGINS: "https://a.example.com,http://localhost:3000" }).corsOrigins).toEqual([
      "https://a.example.com",
      "http://localhost:3000",
    ]);
  });
});

describe("HTTP-level refusals and content types", () => {
  const errorOf = async (response: Response) =>
    ((await response.json()) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> }).errors[0]!;

  it("a PUT gets 405 METHOD_NOT_ALLOWED; a POST beside it works", async () => {
    const response = await postGraphql({}, QUERY, "PUT");
    expect(response.status).toBe(405);
    expect((await errorOf(response)).extensions).toEqual({ code: "METHOD_NOT_ALLOWED" });
    expect((await postGraphql({})).status).toBe(200);
  });

  it("a GET (GraphQL over GET is off) gets 405 METHOD_NOT_ALLOWED", async () => {
    const response = await fetch(`${server.url}/graphql?query=%7B__typename%7D`, {
      headers: { accept: "application/json" },
    });
    expect(response.status).toBe(405);
    expect((await errorOf(response)).extensions.code).toBe("METHOD_NOT_ALLOWED");
  });

  it("a text/plain body gets 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    const response = await postGraphql({ "content-type": "text/plain" });
    expect(response.status).toBe(415);
    expect((await errorOf(response)).extensions).toEqual({ code: "UNSUPPORTED_MEDIA_TYPE" });
  });

  it("an unparsable JSON body gets 400 BAD_REQUEST_BODY; a body without query too", async () => {
    const broken = await postGraphql({}, '{"query": "{ __typename }"');
    expect(broken.status).toBe(400);
    expect((await errorOf(broken)).extensions).toEqual({ code: "BAD_REQUEST_BODY" });
    const noQuery = await postGraphql({}, '{"variables": {}}');
    expect(noQuery.status).toBe(400);
    expect((await errorOf(noQuery)).extensions.code).toBe("BAD_REQUEST_BODY");
  });

  it("Accept: text/html only (no GraphQL type) gets 406 NOT_ACCEPTABLE", async () => {
    const response = await postGraphql({ accept: "text/html" });
    expect(response.status).toBe(406);
    expect((await errorOf(response)).extensions.code).toBe("NOT_ACCEPTABLE");
  });

  it("a GraphQL validation error keeps GRAPHQL_VALIDATION_FAILED", async () => {
    const response = await postGraphql({}, JSON.stringify({ query: "{ noSuchField }" }));
    expect((await errorOf(response)).extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  it.each([
    ["Accept: */*", { accept: "*/*" }],
    ["no Accept header", { accept: "" }],
  ])("with %s the answer is application/json (graphql-http audits 47DE, 80D8)", async (_label, headers) => {
    const response = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: QUERY,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("Accept: application/graphql-response+json still gets that type", async () => {
    const response = await postGraphql({ accept: "application/graphql-response+json" });
    expect(response.headers.get("content-type")).toMatch(/^application\/graphql-response\+json/);
  });
});

describe("token claims", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = () => ({ sub: org.users.member, organisation_id: org.id, sid: org.sessions.member });
  const sign = (payload: object) =>
    jwt.sign(payload, TEST_JWT_SECRET, { algorithm: "HS256", issuer: JWT_ISSUER, audience: JWT_AUDIENCE });
  const ask = (token: string) =>
    postGraphql({ authorization: `Bearer ${token}` }, JSON.stringify({ query: "{ people { totalCount } }" }));
  const refusal = async (response: Response) => {
    expect(response.status).toBe(401);
    const body = (await response.json()) as { data?: unknown; errors: Array<{ extensions: Record<string, unknown> }> };
    expect(body.data).toBeUndefined();
    return body.errors[0]!.extensions;
  };

  it("a token without sid is refused (missing_session); the same claims with the session work", async () => {
    const { sid: _sid, ...withoutSession } = claims();
    expect(await refusal(await ask(sign({ ...withoutSession, exp: now() + 300 })))).toEqual({
      code: "UNAUTHENTICATED",
      reason: "missing_session",
    });
    const fine = await ask(sign({ ...claims(), exp: now() + 300 }));
    expect(fine.status).toBe(200);
    expect(((await fine.json()) as { errors?: unknown }).errors).toBeUndefined();
  });

  it("a token issued in the future is refused (issued_in_future); 10 s ahead (clock skew) is accepted", async () => {
    expect(await refusal(await ask(sign({ ...claims(), iat: now() + 600, exp: now() + 900 })))).toEqual({
      code: "UNAUTHENTICATED",
      reason: "issued_in_future",
    });
    expect((await ask(sign({ ...claims(), iat: now() + 10, exp: now() + 300 }))).status).toBe(200);
  });

  it("a token whose exp is further than the server's lifetime is refused (lifetime_exceeded); within it works", async () => {
    // The test server's lifetime is the default, 12 hours.
    expect(await refusal(await ask(sign({ ...claims(), exp: now() + 13 * 3600 })))).toEqual({
      code: "UNAUTHENTICATED",
      reason: "lifetime_exceeded",
    });
    expect((await ask(sign({ ...claims(), exp: now() + 11 * 3600 }))).status).toBe(200);
  });

  it("a token signed by this server's own helpers works (test tokens carry a session)", async () => {
    const response = await ask(memberToken(org, "viewer"));
    expect(response.status).toBe(200);
  });
});
