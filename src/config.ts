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
  /** Which proxies' X-Forwarded-For to believe (express `trust proxy`); false: the socket's address. */
  trustProxy: TrustProxy;
  /** Origins a browser may call the API from (CORS); empty: none. */
  corsOrigins: string[];
  throttling: ThrottlingConfig;
  /** GraphQL limits (src/limits/): what one request may ask for, tighter for anonymous callers. */
  limits: LimitsConfig;
  /** Trusted documents (src/documents/): in production only registered operations run. */
  documents: TrustedDocumentsConfig;
  metrics: {
    /** Where GET /metrics is served: on the main port, on METRICS_PORT only, or nowhere. */
    exposure: "main-port" | "metrics-port" | "off";
    /** Bearer token /metrics requires (METRICS_TOKEN); undefined means none. */
    token: string | undefined;
    host: string;
    port: number | undefined;
  };
  pixel: {
    /** Statement timeout of the tracking pixel's transaction. */
    statementTimeoutMs: number;
  };
  mail: MailConfig;
  /** Read replicas (READ_*): GraphQL queries run there, mutations on the primary. Empty list = none. */
  readReplicas: ReadReplicaConfig;
  backup: {
    /** Folder for dumps (`npm run db:backup`) and the safety dumps a restore takes. */
    directory: string;
    /** Dumps older than this are pruned after each successful backup. */
    retentionDays: number;
    /** Folder holding pg_dump/pg_restore; undefined means "find them on PATH". */
    pgBinDirectory: string | undefined;
    /** The migrate job (migrate-deploy) dumps the database before applying pending migrations to it. */
    beforeMigrate: boolean;
  };
}

/** express's `trust proxy`: false, a hop count, or addresses/subnets/names (loopback, uniquelocal…). */
export type TrustProxy = false | number | string[];

export interface ThrottlingConfig {
  /** Off only for tests that do not test throttling (the counters are shared by every instance). */
  enabled: boolean;
  /** Wrong passwords for one account within the window before it is locked. */
  loginMaxFailures: number;
  loginFailureWindowSeconds: number;
  /** How long a locked account refuses logins. */
  loginLockoutSeconds: number;
  /** Login attempts per client address per minute (any account). */
  loginPerAddressPerMinute: number;
  /** Sign-ups per client address per hour. */
  registerPerAddressPerHour: number;
  /** Mutations of anonymous requests per client address per minute (all of them together). */
  anonymousMutationsPerAddressPerMinute: number;
  /** Password-hashing mutations running at once in this process; more wait in a queue. */
  passwordHashConcurrency: number;
  /** How long a password-hashing mutation may wait for its turn before SERVICE_BUSY. */
  passwordHashQueueMs: number;
}

/** Limits on one GraphQL operation; each refusal names the limit and its value. */
export interface OperationLimits {
  /** Deepest field nesting, fragments expanded. */
  maxDepth: number;
  /** Aliased fields, fragments expanded. */
  maxAliases: number;
  /** Fields at the root of the operation, fragments expanded. */
  maxRootFields: number;
  /** Estimated cost: fields resolved, page sizes multiplied through nested connections. */
  maxCost: number;
  /** Operations defined in one document. */
  maxOperations: number;
}

export interface LimitsConfig {
  member: OperationLimits;
  anonymous: OperationLimits;
  /** Largest `first`/`last` accepted (larger, or negative, is INVALID_INPUT). */
  maxPageSize: number;
  /** Rows a paginating field returns when called without `first`/`last` (and what the cost estimate counts). */
  defaultPageSize: number;
  /** Grafast's planning timeout (grafast.timeouts.planning). */
  planningTimeoutMs: number;
  /** Largest request body grafserv reads. */
  maxBodyBytes: number;
  /** Introspection (`__schema`, `__type`) for anonymous callers; members always may. */
  anonymousIntrospection: boolean;
}

export interface TrustedDocumentsConfig {
  /** Refuse any document that is not registered (production, unless ALLOW_UNTRUSTED_DOCUMENTS). */
  enforce: boolean;
  /** Folders of `<sha256>.graphql` files the server loads (searched recursively). */
  directories: string[];
}

/** The outbox mailer (src/mail/): where mail goes, how often it looks, how it retries. */
export interface MailConfig {
  /** smtp:// or smtps:// URL of the mail server; undefined: messages are kept in keptDirectory (development). */
  smtpUrl: string | undefined;
  /** The From header of every message. */
  from: string;
  /** Base URL of the links in mail (the front end that calls the API). */
  publicUrl: string;
  /** Run the mailer inside the server (true), or leave it to a standalone `node src/mail/mailer.ts`. */
  inProcess: boolean;
  pollIntervalMs: number;
  /** First retry delay after a failed attempt; doubles per attempt up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a claimed message may take to send; past it, the message is taken as possibly sent. */
  leaseMs: number;
  /** Development without SMTP_URL: each message is written here (`npm run mail:list` reads it). */
  keptDirectory: string;
}

/**
 * What the configuration is for: serving needs the JWT secret; maintenance tools (migrate, backup)
 * do not; the standalone mailer needs only the serving database URL.
 */
export type ConfigPurpose = "serve" | "maintenance" | "mail";

export interface ReadReplicaConfig {
  /** Authenticator URLs of the replicas (READ_DATABASE_URL, comma-separated); empty = no replica routing. */
  urls: string[];
  /** A replica further behind the primary than this is skipped (queries go to the primary). */
  maxLagMs: number;
  /** How often each instance measures its replicas' replay position and lag. */
  checkIntervalMs: number;
}

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
  BACKUP_BEFORE_MIGRATE: booleanFlag,
  PG_BIN_DIR: optionalString,
  TRUST_PROXY: optionalString,
  CORS_ORIGINS: optionalString,
  THROTTLING: booleanFlag,
  LOGIN_MAX_FAILURES: integer(1, 1000).default(5),
  LOGIN_FAILURE_WINDOW_SECONDS: integer(1, 86_400).default(900),
  LOGIN_LOCKOUT_SECONDS: integer(1, 86_400).default(900),
  LOGIN_PER_ADDRESS_PER_MINUTE: integer(1, 100_000).default(30),
  REGISTER_PER_ADDRESS_PER_HOUR: integer(1, 100_000).default(20),
  ANONYMOUS_MUTATIONS_PER_ADDRESS_PER_MINUTE: integer(1, 100_000).default(60),
  PASSWORD_HASH_CONCURRENCY: integer(1, 1000).optional(),
  PASSWORD_HASH_QUEUE_MS: integer(0, 60_000).default(2_000),
  // GraphQL limits (src/limits/), each one for members and, tighter, for anonymous callers.
  LIMITS_MAX_DEPTH: integer(1, 1000).default(20),
  LIMITS_ANONYMOUS_MAX_DEPTH: integer(1, 1000).default(15),
  LIMITS_MAX_ALIASES: integer(0, 100_000).default(50),
  LIMITS_ANONYMOUS_MAX_ALIASES: integer(0, 100_000).default(10),
  LIMITS_MAX_ROOT_FIELDS: integer(1, 10_000).default(20),
  LIMITS_ANONYMOUS_MAX_ROOT_FIELDS: integer(1, 10_000).default(5),
  LIMITS_MAX_COST: integer(1, 1_000_000_000).default(100_000),
  LIMITS_ANONYMOUS_MAX_COST: integer(1, 1_000_000_000).default(5_000),
  LIMITS_MAX_OPERATIONS: integer(1, 10_000).default(100),
  LIMITS_ANONYMOUS_MAX_OPERATIONS: integer(1, 10_000).default(50),
  LIMITS_MAX_PAGE_SIZE: integer(1, 1_000_000).default(1_000),
  LIMITS_DEFAULT_PAGE_SIZE: integer(1, 1_000_000).default(100),
  LIMITS_PLANNING_TIMEOUT_MS: integer(10, 600_000).default(1_000),
  LIMITS_MAX_BODY_BYTES: integer(1_000, 100_000_000).default(100_000),
  ALLOW_ANONYMOUS_INTROSPECTION: booleanFlag,
  // Trusted documents (src/documents/).
  ALLOW_UNTRUSTED_DOCUMENTS: booleanFlag,
  TRUSTED_DOCUMENTS_DIRS: optionalString,
  METRICS_TOKEN: optionalString,
  METRICS_PORT: integer(0, 65535).optional(),
  METRICS_HOST: z.string().trim().min(1).default("127.0.0.1"),
  PIXEL_STATEMENT_TIMEOUT_MS: integer(100, 60_000).default(2_000),
  // Mail (src/mail/): see .env.example.
  SMTP_URL: z
    .string()
    .trim()
    .refine((value) => {
      try {
        return ["smtp:", "smtps:"].includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, "must be a URL like smtp://user:password@mail.example.com:587 or smtps://…:465")
    .optional(),
  MAIL_FROM: optionalString,
  PUBLIC_URL: z
    .string()
    .trim()
    .refine((value) => {
      try {
        return ["http:", "https:"].includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, "must be an http(s) URL like https://app.example.com")
    .optional(),
  MAILER: z.enum(["in-process", "off"]).optional(),
  MAIL_POLL_INTERVAL_MS: integer(20, 600_000).default(2_000),
  MAIL_RETRY_BASE_MS: integer(10, 3_600_000).default(30_000),
  MAIL_RETRY_MAX_MS: integer(10, 86_400_000).default(900_000),
  MAIL_LEASE_MS: integer(1_000, 3_600_000).default(120_000),
  // Read by @dataplan/pg itself when it loads (0 disables named prepared statements, which
  // PgBouncer 1.18 in transaction mode cannot keep per client); validated here so a typo is caught.
  DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE: integer(0, 10_000).optional(),
});

/** Every variable the configuration reads: the compose file's structural test checks against it. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(environmentSchema.shape);

/** Minimum length of METRICS_TOKEN, in bytes. */
export const MIN_METRICS_TOKEN_BYTES = 16;

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
  const database = resolveDatabaseConfig(env, purpose !== "mail" && (migrateOnStart || purpose === "maintenance"));
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

  if (env.METRICS_TOKEN !== undefined && Buffer.byteLength(env.METRICS_TOKEN) < MIN_METRICS_TOKEN_BYTES) {
    throw new ConfigError(
      `METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_BYTES} bytes long (for example: openssl rand -hex 24).`,
    );
  }
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
    throw new ConfigError(
      "METRICS_PORT must differ from PORT (or leave METRICS_PORT unset to serve /metrics on PORT).",
    );
  }
  // Off the public port in production unless a token protects it; open on it in development.
  const metricsExposure =
    env.METRICS_PORT !== undefined
      ? "metrics-port"
      : env.METRICS_TOKEN !== undefined || !isProduction
        ? "main-port"
        : "off";
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
    limits: {
      member: {
        maxDepth: env.LIMITS_MAX_DEPTH,
        maxAliases: env.LIMITS_MAX_ALIASES,
        maxRootFields: env.LIMITS_MAX_ROOT_FIELDS,
        maxCost: env.LIMITS_MAX_COST,
        maxOperations: env.LIMITS_MAX_OPERATIONS,
      },
      anonymous: {
        maxDepth: env.LIMITS_ANONYMOUS_MAX_DEPTH,
        maxAliases: env.LIMITS_ANONYMOUS_MAX_ALIASES,
        maxRootFields: env.LIMITS_ANONYMOUS_MAX_ROOT_FIELDS,
        maxCost: env.LIMITS_ANONYMOUS_MAX_COST,
        maxOperations: env.LIMITS_ANONYMOUS_MAX_OPERATIONS,
      },
      maxPageSize: env.LIMITS_MAX_PAGE_SIZE,
      defaultPageSize: env.LIMITS_DEFAULT_PAGE_SIZE,
      planningTimeoutMs: env.LIMITS_PLANNING_TIMEOUT_MS,
      maxBodyBytes: env.LIMITS_MAX_BODY_BYTES,
      anonymousIntrospection: env.ALLOW_ANONYMOUS_INTROSPECTION ?? !isProduction,
    },
    documents: {
      enforce: !(env.ALLOW_UNTRUSTED_DOCUMENTS ?? !isProduction),
      directories: (env.TRUSTED_DOCUMENTS_DIRS ?? "documents")
        .split(",")
        .map((entry) => entry.trim())
        .filter((entry) => entry !== "")
        .map((entry) => path.resolve(projectRoot, entry)),
    },
    migrateOnStart,
    startupTimeoutMs: env.DATABASE_STARTUP_TIMEOUT_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    corsOrigins: parseCorsOrigins(env.CORS_ORIGINS),
    throttling: {
      enabled: env.THROTTLING ?? true,
      loginMaxFailures: env.LOGIN_MAX_FAILURES,
      loginFailureWindowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
      loginLockoutSeconds: env.LOGIN_LOCKOUT_SECONDS,
      loginPerAddressPerMinute: env.LOGIN_PER_ADDRESS_PER_MINUTE,
      registerPerAddressPerHour: env.REGISTER_PER_ADDRESS_PER_HOUR,
      anonymousMutationsPerAddressPerMinute: env.ANONYMOUS_MUTATIONS_PER_ADDRESS_PER_MINUTE,
      // A quarter of the pool by default: hashing requests never hold more than that of it.
      passwordHashConcurrency: env.PASSWORD_HASH_CONCURRENCY ?? Math.max(1, Math.floor(env.DATABASE_POOL_MAX / 4)),
      passwordHashQueueMs: env.PASSWORD_HASH_QUEUE_MS,
    },
    metrics: { exposure: metricsExposure, token: env.METRICS_TOKEN, host: env.METRICS_HOST, port: env.METRICS_PORT },
    pixel: { statementTimeoutMs: env.PIXEL_STATEMENT_TIMEOUT_MS },
    mail: {
      smtpUrl: env.SMTP_URL,
      from: env.MAIL_FROM ?? "ProspectFlow <no-reply@prospectflow.localhost>",
      publicUrl: (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ""),
      // Tests share one database: only a test that asks for a mailer gets one.
      inProcess: (env.MAILER ?? (env.NODE_ENV === "test" ? "off" : "in-process")) === "in-process",
      pollIntervalMs: env.MAIL_POLL_INTERVAL_MS,
      retryBaseMs: env.MAIL_RETRY_BASE_MS,
      retryMaxMs: Math.max(env.MAIL_RETRY_MAX_MS, env.MAIL_RETRY_BASE_MS),
      leaseMs: env.MAIL_LEASE_MS,
      keptDirectory: path.resolve(projectRoot, env.DATA_DIR ?? ".data", "mail"),
    },
    readReplicas,
    backup: {
      directory: path.resolve(projectRoot, env.BACKUP_DIR ?? path.join(env.DATA_DIR ?? ".data", "backups")),
      retentionDays: env.BACKUP_RETENTION_DAYS,
      pgBinDirectory: env.PG_BIN_DIR === undefined ? undefined : path.resolve(projectRoot, env.PG_BIN_DIR),
      beforeMigrate: env.BACKUP_BEFORE_MIGRATE ?? true,
    },
  };
}

const TRUST_PROXY_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);
const IPV4_OR_SUBNET = /^(\d{1,3})(\.\d{1,3}){3}(\/\d{1,2})?$/;
const IPV6_OR_SUBNET = /^[0-9a-f:]*:[0-9a-f:.]*(\/\d{1,3})?$/i;

/**
 * TRUST_PROXY: unset, "false" or "0" trust no proxy (the socket's address is the client's); a
 * number trusts that many hops; otherwise a comma-separated list of addresses, subnets or
 * express's names (loopback, linklocal, uniquelocal). "true" (trust everyone) is refused: any
 * client could then choose its own address by sending X-Forwarded-For.
 */
function parseTrustProxy(value: string | undefined): TrustProxy {
  if (value === undefined || value === "false" || value === "0") return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 10) throw new ConfigError(`TRUST_PROXY: a hop count must be from 0 to 10 (got "${value}").`);
    return hops;
  }
  if (value === "true") {
    throw new ConfigError(
      "TRUST_PROXY=true would believe X-Forwarded-For from anyone; name the proxies instead " +
        "(e.g. TRUST_PROXY=loopback,10.0.0.0/8) or give the number of proxies in front (TRUST_PROXY=1).",
    );
  }
  const entries = value.split(",").map((entry) => entry.trim());
  for (const entry of entries) {
    if (!(TRUST_PROXY_NAMES.has(entry) || IPV4_OR_SUBNET.test(entry) || IPV6_OR_SUBNET.test(entry))) {
      throw new ConfigError(
        `TRUST_PROXY: "${entry}" is not an IP address, a subnet (10.0.0.0/8) or one of loopback, linklocal, uniquelocal.`,
      );
    }
  }
  return entries;
}

/** CORS_ORIGINS: comma-separated origins (scheme://host[:port]), each exactly as a browser sends it. */
function parseCorsOrigins(value: string | undefined): string[] {
  if (value === undefined) return [];
  const origins = value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !["http:", "https:"].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(
        `CORS_ORIGINS: "${origin}" is not an origin; write scheme://host[:port] without a path or trailing slash ` +
          "(e.g. https://app.example.com).",
      );
    }
  }
  return origins;
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
