// What bench/run.ts passes to the bench-only servers it starts as child processes (variants b
// and c), read once from their environment. The shipped server (variant a) is configured
// through the project's own variables instead, exactly as in production.

export interface ChildServerSettings {
  /** The pool's login: the authenticator (c) or the bench-only BYPASSRLS role (b). */
  databaseUrl: string;
  jwtSecret: string;
  port: number;
  poolMax: number;
  statementTimeoutMs: number;
}

export const CHILD_ENV = {
  databaseUrl: "BENCH_CHILD_DATABASE_URL",
  jwtSecret: "BENCH_CHILD_JWT_SECRET",
  port: "BENCH_CHILD_PORT",
  poolMax: "BENCH_CHILD_POOL_MAX",
  statementTimeoutMs: "BENCH_CHILD_STATEMENT_TIMEOUT_MS",
} as const;

export function childServerSettings(
  environment: Record<string, string | undefined> = process.env,
): ChildServerSettings {
  const read = (name: string): string => {
    const value = environment[name];
    if (value === undefined || value === "")
      throw new Error(`${name} is not set (this server is started by bench/run.ts)`);
    return value;
  };
  return {
    databaseUrl: read(CHILD_ENV.databaseUrl),
    jwtSecret: read(CHILD_ENV.jwtSecret),
    port: Number(read(CHILD_ENV.port)),
    poolMax: Number(read(CHILD_ENV.poolMax)),
    statementTimeoutMs: Number(read(CHILD_ENV.statementTimeoutMs)),
  };
}
