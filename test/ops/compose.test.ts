// The compose stack cannot run here (no Docker engine), so its file is checked for structure and
// for consistency with the code: every service and health check is there, PgBouncer runs the
// configuration the pooling tests run, the API gets no owner or superuser credentials, every
// variable a service sets is one the configuration reads (and the API's environment, filled
// from .env.example, passes the real configuration parser), and no secret is written in it.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CONFIG_VARIABLES, loadConfig, projectRoot } from "../../src/config.ts";

const execFileAsync = promisify(execFile);

interface Service {
  image?: string;
  build?: { context: string; target: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
  ports?: string[];
  volumes?: string[];
  stop_grace_period?: string;
  restart?: string;
  user?: string;
}

const composeText = readFileSync(path.join(projectRoot, "docker-compose.yaml"), "utf8");
const compose = parse(composeText) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const dockerfile = readFileSync(path.join(projectRoot, "Dockerfile"), "utf8");
const pgbouncerScript = readFileSync(path.join(projectRoot, "scripts/pgbouncer-config.sh"), "utf8");
const exampleEnvironment = Object.fromEntries(
  readFileSync(path.join(projectRoot, ".env.example"), "utf8")
    .split("\n")
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
);

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?message}, $$ for a literal $. */
function interpolate(value: string, variables: Record<string, string>): string {
  return value
    .replace(/\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_match, name: string, kind?: string, rest?: string) => {
      const set = variables[name];
      if (set !== undefined && set !== "") return set;
      if (kind === "-") return rest ?? "";
      if (kind === "?") throw new Error(`${name} is required: ${rest}`);
      return "";
    })
    .replaceAll("$$", "$");
}

const environmentOf = (service: string) =>
  Object.fromEntries(
    Object.entries(services[service]!.environment ?? {}).map(([name, value]) => [
      name,
      interpolate(String(value), exampleEnvironment),
    ]),
  );

const dockerfileStages = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((match) => match[1]);

describe("docker-compose.yaml", () => {
  it("runs postgres 18, a migrate job, pgbouncer, the api, a mailer and a backup service; pgAdmin, restore and a replica only under profiles", () => {
    expect(Object.keys(services).sort()).toEqual(
      ["api", "backup", "mailer", "migrate", "pgadmin", "pgbouncer", "postgres", "postgres-replica", "restore"].sort(),
    );
    for (const always of ["postgres", "migrate", "pgbouncer", "api", "mailer", "backup"])
      expect(services[always]!.profiles).toBeUndefined();
    expect(services.pgadmin!.profiles).toEqual(["admin"]);
    expect(services.restore!.profiles).toEqual(["tools"]);
    expect(services["postgres-replica"]!.profiles).toEqual(["replica"]);
    expect(services.postgres!.image).toBe("postgres:18");
    expect(services["postgres-replica"]!.image).toBe("postgres:18");
  });

  it("gives every long-running service a health check (postgres with pg_isready, the api with /readyz)", () => {
    for (const name of ["postgres", "pgbouncer", "api", "postgres-replica"]) {
      expect(services[name]!.healthcheck?.test, name).toBeDefined();
    }
    expect(services.postgres!.healthcheck!.test.join(" ")).toContain("pg_isready");
    expect(services.api!.healthcheck!.test.join(" ")).toContain("/readyz");
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
  });

  it("starts each service only after what it needs: migrate after a healthy postgres, the api after migrate and a healthy pgbouncer", () => {
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(services.migrate!.restart).toBe("no");
    expect(services.migrate!.command).toEqual(["node", "src/cli/migrate-deploy.ts"]);
    expect(services.pgbouncer!.depends_on).toEqual({ migrate: { condition: "service_completed_successfully" } });
    expect(services.api!.depends_on).toEqual({
      migrate: { condition: "service_completed_successfully" },
      pgbouncer: { condition: "service_healthy" },
    });
  });

  it("runs PgBouncer in transaction mode with at most 100 server connections, rendered by the script the pooling tests run", () => {
    expect(services.pgbouncer!.build).toEqual({ context: ".", target: "pgbouncer" });
    expect(dockerfile).toContain("COPY scripts/pgbouncer-config.sh");
    expect(dockerfile).toMatch(
      /pgbouncer-config\.sh \/tmp\/pgbouncer && exec pgbouncer \/tmp\/pgbouncer\/pgbouncer\.ini/,
    );
    expect(pgbouncerScript).toMatch(/^pool_mode = transaction$/m);
    expect(Number(environmentOf("pgbouncer").PGBOUNCER_MAX_SERVER_CONNECTIONS)).toBe(100);
    // PgBouncer gives up on a frozen server only after a statement could legitimately have finished.
    expect(Number(environmentOf("pgbouncer").PGBOUNCER_QUERY_TIMEOUT) * 1000).toBeGreaterThan(
      Number(environmentOf("api").DATABASE_STATEMENT_TIMEOUT_MS),
    );
    expect(environmentOf("pgbouncer").PGBOUNCER_AUTH_USER).toBe(
      new URL(environmentOf("api").AUTH_DATABASE_URL!).username,
    );
  });

  it("connects the api through pgbouncer as the authenticator, without owner or superuser credentials", () => {
    const api = environmentOf("api");
    const url = new URL(api.AUTH_DATABASE_URL!);
    expect(url.host).toBe("pgbouncer:6432");
    expect(url.username).toBe("prospectflow_authenticator");
    expect(api.MIGRATE_ON_START).toBe("false");
    expect(api.DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE).toBe("0");
    for (const absent of ["DATABASE_URL", "ROOT_DATABASE_URL", "SHADOW_DATABASE_URL"])
      expect(api[absent]).toBeUndefined();
    // What the API container would parse at start: accepted by the real configuration parser.
    const config = loadConfig(api);
    expect(config).toMatchObject({ isProduction: true, migrateOnStart: false, loadDemoData: false, graphiql: false });
    expect(config.pool).toEqual({
      max: 20,
      connectionTimeoutMs: 5000,
      idleTimeoutMs: 30000,
      statementTimeoutMs: 15000,
    });
    expect(config.database.kind).toBe("external");
  });

  it("lets in-flight requests drain before Docker's SIGKILL", () => {
    const grace = Number(/^(\d+)s$/.exec(services.api!.stop_grace_period ?? "")?.[1]);
    expect(grace * 1000).toBeGreaterThan(Number(environmentOf("api").SHUTDOWN_TIMEOUT_MS));
  });

  it("backs up daily straight to postgres (not through pgbouncer) with 30 days' retention into a volume", () => {
    const backup = services.backup!;
    expect(backup.build?.target).toBe("backup");
    expect(backup.command?.map((part) => interpolate(part, exampleEnvironment))).toEqual([
      "node",
      "src/cli/backup.ts",
      "full",
      "--daily-at",
      "02:00",
    ]);
    const environment = environmentOf("backup");
    expect(new URL(environment.DATABASE_URL!).host).toBe("postgres:5432");
    expect(new URL(environment.AUTH_DATABASE_URL!).password).toBe("");
    expect(environment.BACKUP_RETENTION_DAYS).toBe("30");
    expect(backup.volumes).toContain("backups:/backups");
    expect(loadConfig(environment, "maintenance").backup).toMatchObject({ directory: "/backups", retentionDays: 30 });
    expect(loadConfig(environmentOf("restore"), "maintenance").database).toMatchObject({ kind: "external" });
    expect(loadConfig(environmentOf("migrate"), "maintenance").database).toMatchObject({ kind: "external" });
  });

  it("sends mail from the standalone mailer (serving role through PgBouncer), not from the API instances", () => {
    expect(services.mailer!.command).toEqual(["node", "src/mail/mailer.ts"]);
    expect(environmentOf("api").MAILER).toBe("off");
    const config = loadConfig(environmentOf("mailer"), "mail");
    expect(config.database).toMatchObject({ kind: "external", ownerUrl: undefined });
    expect(new URL(environmentOf("mailer").AUTH_DATABASE_URL!).host).toBe("pgbouncer:6432");
    expect(config.mail.publicUrl).toBe(environmentOf("api").PUBLIC_URL);
  });

  it("sets only variables the configuration reads (on the services running this code)", () => {
    for (const name of ["api", "mailer", "migrate", "backup", "restore"]) {
      const unknown = Object.keys(services[name]!.environment ?? {}).filter(
        (variable) => !CONFIG_VARIABLES.includes(variable),
      );
      expect(unknown, name).toEqual([]);
    }
  });

  it("builds every target it names from the Dockerfile: a non-root api on the official Node 24 image", () => {
    for (const service of Object.values(services)) {
      if (service.build) expect(dockerfileStages).toContain(service.build.target);
    }
    expect(dockerfile).toMatch(/^FROM node:24[-\w.]* AS api$/m);
    const apiStage = dockerfile.slice(dockerfile.indexOf(" AS api"), dockerfile.indexOf(" AS backup"));
    expect(apiStage).toMatch(/^USER node$/m);
    expect(dockerfile.slice(dockerfile.indexOf(" AS backup"))).toMatch(/postgresql-client-18/);
  });

  it("reads every variable it uses from .env, and .env.example lists them all", () => {
    const used = new Set([...composeText.matchAll(/\$\{([A-Z_]+)/g)].map((match) => match[1]!));
    expect([...used].filter((name) => !(name in exampleEnvironment))).toEqual([]);
  });

  it("contains no secret: every password and the JWT secret come from .env", () => {
    const secretsFromEnv = /^\$\{[A-Z_]+(:[-?][^}]*)?\}$/;
    for (const [name, service] of Object.entries(services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        const text = String(value);
        if (/PASSWORD|SECRET/.test(variable)) expect(text, `${name}.${variable}`).toMatch(secretsFromEnv);
        if (/^postgres(ql)?:\/\//.test(text)) {
          const password = /^postgres(?:ql)?:\/\/[^:@/]+:([^@]*)@/.exec(text)?.[1];
          if (password !== undefined) expect(password, `${name}.${variable}`).toMatch(secretsFromEnv);
        }
      }
    }
    expect(readFileSync(path.join(projectRoot, ".gitignore"), "utf8")).toMatch(/^\.env$/m);
    expect(readFileSync(path.join(projectRoot, ".dockerignore"), "utf8")).toMatch(/^\.env$/m);
  });
});

describe("scripts/pgbouncer-config.sh", () => {
  const render = (extra: Record<string, string>) =>
    execFileAsync(
      "bash",
      [path.join(projectRoot, "scripts/pgbouncer-config.sh"), path.join(projectRoot, ".data", "never-written")],
      {
        env: {
          ...process.env,
          PGBOUNCER_DATABASE: "prospectflow",
          PGBOUNCER_AUTH_USER: "prospectflow_authenticator",
          PGBOUNCER_AUTH_PASSWORD: "x",
          ...extra,
        },
      },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it.each(["0", "101", "lots"])("refuses PGBOUNCER_MAX_SERVER_CONNECTIONS=%s with a clear message", async (value) => {
    const result = await render({ PGBOUNCER_MAX_SERVER_CONNECTIONS: value });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /pgbouncer-config: (PGBOUNCER_MAX_SERVER_CONNECTIONS must be 1 to 100|ports, sizes and timeouts must be whole numbers)/,
    );
  });

  it("refuses a database name that could inject configuration", async () => {
    const result = await render({ PGBOUNCER_DATABASE: "x = host=evil" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("PGBOUNCER_DATABASE must be letters, digits and _");
  });
});
