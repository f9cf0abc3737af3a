// The limits' configuration: defaults, validated variables with clear messages, the production
// defaults of trusted documents and introspection, and GRAPHILE_ENV following NODE_ENV in the
// npm scripts.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { loadConfig, projectRoot } from "../src/config.ts";

const execFileAsync = promisify(execFile);
const production = {
  NODE_ENV: "production",
  DATABASE_URL: "postgres://owner@db/app",
  AUTH_DATABASE_URL: "postgres://authenticator@db/app",
  JWT_SECRET: "x".repeat(40),
};

describe("limits configuration", () => {
  it("has tighter defaults for anonymous requests than for members", () => {
    const { limits } = loadConfig({});
    expect(limits.member).toEqual({
      maxDepth: 20,
      maxAliases: 50,
      maxRootFields: 20,
      maxCost: 100_000,
      maxOperations: 100,
    });
    expect(limits.anonymous).toEqual({
      maxDepth: 15,
      maxAliases: 10,
      maxRootFields: 5,
      maxCost: 5_000,
      maxOperations: 50,
    });
    expect(limits).toMatchObject({
      maxPageSize: 1000,
      defaultPageSize: 100,
      planningTimeoutMs: 1000,
      maxBodyBytes: 100_000,
    });
  });

  it("reads every limit from its variable, and refuses a malformed one naming it", () => {
    expect(loadConfig({ LIMITS_MAX_COST: "5000", LIMITS_ANONYMOUS_MAX_DEPTH: "8" }).limits).toMatchObject({
      member: { maxCost: 5000 },
      anonymous: { maxDepth: 8 },
    });
    expect(() => loadConfig({ LIMITS_MAX_PAGE_SIZE: "-1" })).toThrow(
      /LIMITS_MAX_PAGE_SIZE: must be a whole number from 1/,
    );
    expect(() => loadConfig({ LIMITS_PLANNING_TIMEOUT_MS: "soon" })).toThrow(/LIMITS_PLANNING_TIMEOUT_MS/);
    expect(() => loadConfig({ ALLOW_UNTRUSTED_DOCUMENTS: "maybe" })).toThrow(/ALLOW_UNTRUSTED_DOCUMENTS/);
  });

  it("enforces trusted documents and refuses anonymous introspection in production only, each with a switch", () => {
    expect(loadConfig(production).documents.enforce).toBe(true);
    expect(loadConfig(production).limits.anonymousIntrospection).toBe(false);
    expect(loadConfig({ ...production, ALLOW_UNTRUSTED_DOCUMENTS: "true" }).documents.enforce).toBe(false);
    expect(loadConfig({ ...production, ALLOW_ANONYMOUS_INTROSPECTION: "true" }).limits.anonymousIntrospection).toBe(
      true,
    );
    expect(loadConfig({}).documents.enforce).toBe(false);
    expect(loadConfig({}).limits.anonymousIntrospection).toBe(true);
    // Enforcing outside production, to try a client against it.
    expect(loadConfig({ ALLOW_UNTRUSTED_DOCUMENTS: "false" }).documents.enforce).toBe(true);
    expect(loadConfig({ TRUSTED_DOCUMENTS_DIRS: "documents, bench/documents" }).documents.directories).toEqual([
      `${projectRoot}/documents`,
      `${projectRoot}/bench/documents`,
    ]);
  });
});

describe("GRAPHILE_ENV in the npm scripts", () => {
  const scripts = JSON.parse(readFileSync(`${projectRoot}/package.json`, "utf8")).scripts as Record<string, string>;
  /** What GRAPHILE_ENV a script's command line gives the node process it starts. */
  async function graphileEnvOf(script: string, environment: Record<string, string>): Promise<string> {
    const command = script.replace(/node \S+\.ts.*$/, `node -e "console.log(process.env.GRAPHILE_ENV)"`);
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...environment };
    const { stdout } = await execFileAsync("sh", ["-c", command], { env });
    return stdout.trim();
  }

  for (const name of ["start", "dev", "docs"]) {
    it(`${name}: follows NODE_ENV unless GRAPHILE_ENV is set, development by default`, async () => {
      expect(await graphileEnvOf(scripts[name]!, { NODE_ENV: "production" })).toBe("production");
      expect(await graphileEnvOf(scripts[name]!, {})).toBe("development");
      expect(await graphileEnvOf(scripts[name]!, { NODE_ENV: "production", GRAPHILE_ENV: "development" })).toBe(
        "development",
      );
    });
  }
});
