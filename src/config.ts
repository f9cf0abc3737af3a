// Configuration: the environment parsed and validated once, at start, into a typed object.
// Nothing else in the project reads process.env.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export type DatabaseConfig =
  | { kind: "embedded" }
  | {
      kind: "external";
      /** Superuser; used only to create roles, the database and extensions. */
      rootUrl: string | undefined;
      /**
       * Owner of the database; runs migrations. Absent only for a server that just serves
       * (MIGRATE_ON_START=false): it never logs in as the owner. Ask for it with requireOwnerUrl.
       */
      ownerUrl: string | undefined;
      /** The server's pool logs in as this role (NOINHERIT, no rights of its own). */
      authenticatorUrl: string;
      /** Scratch database for `graphile-migrate commit` in development. */
      shadowUrl: string | undefined;
    };

export interface Config {
  nodeEnv: "development" | "production" | "test";
  isProduction: boolean;
  host: string;
  port: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Folder for local state: embedded PostgreSQL data, the development JWT secret. */
  dataDir: string;
  database: DatabaseConfig;
  /** From JWT_SECRET; undefined means "generate one under dataDir" (development only). */
  jwtSecret: string | undefined;
  /** Lifetime of tokens this server signs, in seconds. */
  jwtLifetimeSeconds: number;
  /** Load demo organisations when the database has none. */
  loadDemoData: boolean;
  graphiql: boolean;
  pool: {
    max: number;
    connectionTimeoutMs: number;
    idleTimeoutMs: number;
    statementTimeoutMs: number;
  };
  /** Create roles/database and apply committed migrations at start; false when a migrate job does it. */
  migrateOnStart: boolean;
  /** Start-up gives up (exit 1) when the database has not answered within this time. */
  startupTimeoutMs: number;
  /** How long in-flight requests may run after SIGTERM before their connections are cut. */
  shutdownTimeoutMs: number;
  /** Read replicas (READ_*): GraphQL queries run there, mutations on the primary. Empty list = none. */
  readReplicas: ReadReplicaConfig;
  backup: {
    /** Folder for dumps (`npm run db:backup`) and the safety dumps a restore takes. */
    directory: string;
    /** Dumps older than this are pruned after each successful backup. */
    retentionDays: number;
    /** Folder holding pg_dump/pg_restore; undefined means "find them on PATH". */
    pgBinDirectory: string | undefined;
  };
}

export interface ReadReplicaConfig {
  /** Authenticator URLs of the replicas (READ_DATABASE_URL, comma-separated); empty = no replica routing. */
  urls: string[];
  /** A replica further behind the primary than this is skipped (queries go to the primary). */
  maxLagMs: number;
  /** How often each instance measures its replicas' replay position and lag. */
  checkIntervalMs: number;
}

/** What the configuration is for: serving needs the JWT secret; maintenance tools (migrate, backup) do not. */
export type ConfigPurpose = "serve" | "maintenance";

export class ConfigError extends Error {
  override name = "ConfigError";
}

const postgresUrl = z
  .string()
  .trim()
  .min(1)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (
        (url.protocol === "postgres:" || url.protocol === "postgresql:") &&
        url.username !== "" &&
        url.pathname.length > 1
      );
    } catch {
      return false;
    }
  }, "must be a URL like postgres://user:password@host:5432/database (user and database name required)");

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === "" ? undefined : value))
  .optional();

const booleanFlag = z
  .enum(["1", "0", "true", "false", "on", "off", "yes", "no"])
  .transform((value) => ["1", "true", "on", "yes"].includes(value))
  .optional();

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .transform((value, context) => {
      const number = Number(value);
      if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(number) || number < min || number > max) {
        context.addIssue({ code: "custom", message: `must be a whole number from ${min} to ${max} (got "${value}")` });
        return z.NEVER;
      }
      return number;
    });

const environmentSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  PORT: integer(0, 65535).default(5678),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  DATA_DIR: optionalString,
  ROOT_DATABASE_URL: postgresUrl.optional(),
  DATABASE_URL: postgresUrl.optional(),
  AUTH_DATABASE_URL: postgresUrl.optional(),
  SHADOW_DATABASE_URL: postgresUrl.optional(),
  JWT_SECRET: optionalString,
  JWT_LIFETIME_SECONDS: integer(60, 60 * 60 * 24 * 30).default(60 * 60 * 12),
  DEMO_DATA: booleanFlag,
  GRAPHIQL: booleanFlag,
  DATABASE_POOL_MAX: integer(1, 1000).default(10),
  DATABASE_CONNECTION_TIMEOUT_MS: integer(100, 120_000).default(5_000),
  DATABASE_IDLE_TIMEOUT_MS: integer(1_000, 3_600_000).default(30_000),
  DATABASE_STATEMENT_TIMEOUT_MS: integer(100, 3_600_000).default(15_000),
  MIGRATE_ON_START: booleanFlag,
  DATABASE_STARTUP_TIMEOUT_MS: integer(1_000, 600_000).default(30_000),
  SHUTDOWN_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  READ_DATABASE_URL: optionalString,
  READ_REPLICA_MAX_LAG_MS: integer(50, 600_000).default(1_000),
  READ_REPLICA_CHECK_INTERVAL_MS: integer(20, 60_000).default(200),
  BACKUP_DIR: optionalString,
  BACKUP_RETENTION_DAYS: integer(1, 3650).default(30),
  PG_BIN_DIR: optionalString,
  // Read by @dataplan/pg itself when it loads (0 disables named prepared statements, which
  // PgBouncer 1.18 in transaction mode cannot keep per client); validated here so a typo is caught.
  DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE: integer(0, 10_000).optional(),
});

/** Every variable the configuration reads: the compose file's structural test checks against it. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(environmentSchema.shape);

/** Minimum length of a production JWT secret, in bytes (HS256 wants at least 256 bits). */
export const MIN_JWT_SECRET_BYTES = 32;

export function loadConfig(environment: Record<string, string | undefined>, purpose: ConfigPurpose = "serve"): Config {
  // Empty variables count as unset, as they do in most shells' `VAR= cmd` idiom.
  const present = Object.fromEntries(
    Object.entries(environment).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${problems.join("\n")}`);
  }
  const env = parsed.data;
  const isProduction = env.NODE_ENV === "production";

  const migrateOnStart = env.MIGRATE_ON_START ?? true;
  const database = resolveDatabaseConfig(env, migrateOnStart || purpose === "maintenance");
  if (env.DEMO_DATA === true && database.kind === "external" && env.DATABASE_URL === undefined) {
    throw new ConfigError("DEMO_DATA=on needs DATABASE_URL (the owner loads the demo organisations).");
  }

  if (isProduction && database.kind === "embedded") {
    throw new ConfigError("NODE_ENV=production needs an external database: set DATABASE_URL and AUTH_DATABASE_URL.");
  }
  // Maintenance tools (migrate, backup, restore) never sign or verify tokens.
  if (isProduction && purpose === "serve") {
    if (env.JWT_SECRET === undefined || Buffer.byteLength(env.JWT_SECRET) < MIN_JWT_SECRET_BYTES) {
      throw new ConfigError(
        `NODE_ENV=production needs JWT_SECRET of at least ${MIN_JWT_SECRET_BYTES} bytes ` +
          "(for example: openssl rand -base64 48).",
      );
    }
  } else if (env.JWT_SECRET !== undefined && Buffer.byteLength(env.JWT_SECRET) < MIN_JWT_SECRET_BYTES) {
    throw new ConfigError(`JWT_SECRET must be at least ${MIN_JWT_SECRET_BYTES} bytes long.`);
  }

  const readReplicas = resolveReadReplicas(env, database);

  return {
    nodeEnv: env.NODE_ENV,
    isProduction,
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    dataDir: path.resolve(projectRoot, env.DATA_DIR ?? ".data"),
    database,
    jwtSecret: env.JWT_SECRET,
    jwtLifetimeSeconds: env.JWT_LIFETIME_SECONDS,
    loadDemoData: env.DEMO_DATA ?? (!isProduction && !(database.kind === "external" && env.DATABASE_URL === undefined)),
    graphiql: env.GRAPHIQL ?? !isProduction,
    pool: {
      max: env.DATABASE_POOL_MAX,
      connectionTimeoutMs: env.DATABASE_CONNECTION_TIMEOUT_MS,
      idleTimeoutMs: env.DATABASE_IDLE_TIMEOUT_MS,
      statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    },
    migrateOnStart,
    startupTimeoutMs: env.DATABASE_STARTUP_TIMEOUT_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    readReplicas,
    backup: {
      directory: path.resolve(projectRoot, env.BACKUP_DIR ?? path.join(env.DATA_DIR ?? ".data", "backups")),
      retentionDays: env.BACKUP_RETENTION_DAYS,
      pgBinDirectory: env.PG_BIN_DIR === undefined ? undefined : path.resolve(projectRoot, env.PG_BIN_DIR),
    },
  };
}

function resolveDatabaseConfig(env: z.infer<typeof environmentSchema>, needsOwner: boolean): DatabaseConfig {
  const anyExternal = env.ROOT_DATABASE_URL ?? env.DATABASE_URL ?? env.AUTH_DATABASE_URL ?? env.SHADOW_DATABASE_URL;
  if (anyExternal === undefined) return { kind: "embedded" };

  if (env.AUTH_DATABASE_URL !== undefined && env.DATABASE_URL === undefined && !needsOwner) {
    return servingOnlyDatabase(env.AUTH_DATABASE_URL);
  }
  if (env.DATABASE_URL === undefined || env.AUTH_DATABASE_URL === undefined) {
    throw new ConfigError(
      "An external database needs both DATABASE_URL (owner, runs migrations) and " +
        "AUTH_DATABASE_URL (authenticator, serves requests); unset all database variables to use " +
        "the embedded PostgreSQL instead. (With MIGRATE_ON_START=false the server needs only AUTH_DATABASE_URL.)",
    );
  }
  const owner = new URL(env.DATABASE_URL);
  const authenticator = new URL(env.AUTH_DATABASE_URL);
  if (owner.username === authenticator.username) {
    throw new ConfigError(
      "AUTH_DATABASE_URL must log in as a different role than DATABASE_URL: the server never " +
        "serves requests as the database owner.",
    );
  }
  if (owner.pathname !== authenticator.pathname) {
    throw new ConfigError("DATABASE_URL and AUTH_DATABASE_URL must name the same database.");
  }
  if (env.SHADOW_DATABASE_URL !== undefined) {
    const shadow = new URL(env.SHADOW_DATABASE_URL);
    if (shadow.pathname === owner.pathname && shadow.host === owner.host) {
      throw new ConfigError("SHADOW_DATABASE_URL must name a different database than DATABASE_URL.");
    }
  }
  return {
    kind: "external",
    rootUrl: env.ROOT_DATABASE_URL,
    ownerUrl: env.DATABASE_URL,
    authenticatorUrl: env.AUTH_DATABASE_URL,
    shadowUrl: env.SHADOW_DATABASE_URL,
  };
}

/** READ_DATABASE_URL: one or more authenticator URLs of read replicas, comma-separated. */
function resolveReadReplicas(env: z.infer<typeof environmentSchema>, database: DatabaseConfig): ReadReplicaConfig {
  const urls = (env.READ_DATABASE_URL ?? "")
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
  const settings = { maxLagMs: env.READ_REPLICA_MAX_LAG_MS, checkIntervalMs: env.READ_REPLICA_CHECK_INTERVAL_MS };
  if (urls.length === 0) return { urls, ...settings };
  if (database.kind !== "external") {
    throw new ConfigError("READ_DATABASE_URL needs an external primary: set DATABASE_URL and AUTH_DATABASE_URL too.");
  }
  if (urls.length > 16) throw new ConfigError(`READ_DATABASE_URL names ${urls.length} replicas; at most 16.`);
  const authenticator = new URL(database.authenticatorUrl).username;
  urls.forEach((url, index) => {
    const parsed = postgresUrl.safeParse(url);
    if (!parsed.success) {
      throw new ConfigError(`READ_DATABASE_URL, replica ${index + 1}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    }
    if (new URL(url).username !== authenticator) {
      throw new ConfigError(
        `READ_DATABASE_URL, replica ${index + 1}: must log in as the authenticator (${authenticator}, as ` +
          "AUTH_DATABASE_URL does): RLS and the tenant check run there exactly as on the primary.",
      );
    }
  });
  if (env.READ_REPLICA_CHECK_INTERVAL_MS * 2 > env.READ_REPLICA_MAX_LAG_MS) {
    throw new ConfigError(
      "READ_REPLICA_CHECK_INTERVAL_MS must be at most half of READ_REPLICA_MAX_LAG_MS: the lag is measured " +
        "once per interval, so a longer interval could not keep replicas within the bound.",
    );
  }
  return { urls, ...settings };
}

/** A server that neither migrates nor loads demo data never logs in as the owner. */
function servingOnlyDatabase(authenticatorUrl: string): DatabaseConfig {
  return { kind: "external", rootUrl: undefined, ownerUrl: undefined, authenticatorUrl, shadowUrl: undefined };
}

/** The owner URL, for the work that needs it (migrations, demo data, the CLI tools). */
export function requireOwnerUrl(database: { ownerUrl: string | undefined }): string {
  if (database.ownerUrl === undefined) {
    throw new ConfigError(
      "DATABASE_URL is not set: this environment serves requests only (MIGRATE_ON_START=false). " +
        "Set DATABASE_URL (the owner) to migrate, load demo data or use the CLI tools.",
    );
  }
  return database.ownerUrl;
}
