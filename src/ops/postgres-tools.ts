// Finds and runs PostgreSQL's client programs (pg_dump, pg_restore) with a connection given as a
// URL, keeping the password out of the process list, and checks that pg_dump can dump the server
// (it refuses servers of a newer major version).
import { execFile } from "node:child_process";
import path from "node:path";
import { OpsError } from "./ops-error.ts";

export interface PostgresTools {
  pgDump: string;
  pgRestore: string;
}

export interface ToolOutput {
  stdout: string;
  stderr: string;
}

/** The programs in `binDirectory`, or on PATH when it is undefined (PG_BIN_DIR). */
export function locateTools(binDirectory: string | undefined): PostgresTools {
  const at = (name: string) => (binDirectory === undefined ? name : path.join(binDirectory, name));
  return { pgDump: at("pg_dump"), pgRestore: at("pg_restore") };
}

export function runTool(
  program: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; maxBuffer?: number } = {},
): Promise<ToolOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      program,
      args,
      { env: { ...process.env, ...options.env }, maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ stdout, stderr });
          return;
        }
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          reject(
            new OpsError(
              "TOOL_MISSING",
              `${path.basename(program)} not found (${program}): install the PostgreSQL client tools of your ` +
                "server's major version (e.g. apt-get install postgresql-client-18) or set PG_BIN_DIR to their folder.",
            ),
          );
          return;
        }
        const detail = (stderr || stdout || error.message).trim();
        reject(Object.assign(new Error(detail), { exitCode: error.code, stderr }));
      },
    );
  });
}

/** Major version of a client program, from `--version` ("pg_dump (PostgreSQL) 15.20 (Debian …)"). */
export async function toolMajorVersion(program: string): Promise<number> {
  const { stdout } = await runTool(program, ["--version"]);
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(stdout);
  if (!match) throw new OpsError("TOOL_MISSING", `Cannot tell the version of ${program} from "${stdout.trim()}".`);
  return Number(match[1]);
}

/** Major version from `server_version_num` (150020 → 15, 180004 → 18). */
export function serverMajorVersion(serverVersionNum: string | number): number {
  return Math.floor(Number(serverVersionNum) / 10_000);
}

export async function assertCanDump(pgDump: string, serverMajor: number): Promise<number> {
  const clientMajor = await toolMajorVersion(pgDump);
  if (clientMajor < serverMajor) {
    throw new OpsError(
      "VERSION_MISMATCH",
      `pg_dump ${clientMajor} (${pgDump}) cannot dump a PostgreSQL ${serverMajor} server: pg_dump must be at least ` +
        `the server's major version. Install the PostgreSQL ${serverMajor} client tools and set PG_BIN_DIR ` +
        `(e.g. /usr/lib/postgresql/${serverMajor}/bin), or use the compose backup service, which ships them.`,
    );
  }
  return clientMajor;
}

/**
 * libpq arguments for a URL: the URL without its password for --dbname, the password in
 * PGPASSWORD (so it never shows in `ps`). Query parameters such as sslmode stay in the URL.
 */
export function connectionArguments(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = "";
  const env: NodeJS.ProcessEnv = { PGCONNECT_TIMEOUT: "10" };
  if (password !== "") env.PGPASSWORD = password;
  return { dbname: parsed.toString(), env };
}
