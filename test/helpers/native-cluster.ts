// Whole PostgreSQL servers built from Debian's server binaries (the version `npm run test:ops`
// runs against), for what a database inside a shared server cannot show: WAL archiving,
// point-in-time recovery, a streaming replica. Each lives in a folder of its own, on a free
// loopback port, run as the postgres system user when we are root.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { findFreePort } from "../../src/db/embedded-postgres.ts";

const execFileAsync = promisify(execFile);

/** Debian's layout: /usr/lib/postgresql/<major>/bin, the newest installed. */
export async function debianServerBinaries(): Promise<string> {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? (await fs.readdir(root)).filter((name) => /^\d+$/.test(name)).map(Number) : [];
  const bin = majors.length > 0 ? path.join(root, String(Math.max(...majors)), "bin") : undefined;
  if (bin === undefined || !existsSync(path.join(bin, "initdb"))) {
    throw new Error(
      "needs Debian's PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin/initdb): apt-get install postgresql-15",
    );
  }
  return bin;
}

export interface Workspace {
  folder: string;
  /** Runs one of the server binaries as the postgres user (when root), in the workspace. */
  run(program: string, args: string[]): Promise<string>;
  remove(): Promise<void>;
}

export async function createWorkspace(bin: string): Promise<Workspace> {
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), "prospectflow-cluster-"));
  await fs.chmod(folder, 0o755);
  let owner: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const { stdout: uid } = await execFileAsync("id", ["-u", "postgres"]);
    const { stdout: gid } = await execFileAsync("id", ["-g", "postgres"]);
    owner = { uid: Number(uid), gid: Number(gid) };
    await fs.chown(folder, owner.uid, owner.gid);
  }
  return {
    folder,
    async run(program, args) {
      try {
        const { stdout, stderr } = await execFileAsync(path.join(bin, program), args, {
          ...(owner ?? {}),
          cwd: folder,
          env: { ...process.env, LC_ALL: "C", PGCONNECT_TIMEOUT: "10" },
        });
        return `${stdout}${stderr}`;
      } catch (error) {
        const output = error as { stdout?: string; stderr?: string; message: string };
        throw new Error(
          `${program} ${args.join(" ")} failed: ${(output.stderr || output.stdout || output.message).trim()}`,
          { cause: error },
        );
      }
    },
    async remove() {
      await fs.rm(folder, { recursive: true, force: true });
    },
  };
}

export interface NativeCluster {
  port: number;
  dataDirectory: string;
  url(database?: string): string;
  query<T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]>;
  /** The single row a query returns (fails if there is none). */
  queryOne<T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T>;
  start(): Promise<void>;
  stop(mode?: "fast" | "immediate"): Promise<void>;
}

/** A cluster on `dataDirectory` (initialised by the caller, or by initdb when `initialise`). */
export async function nativeCluster(
  workspace: Workspace,
  name: string,
  options: { initialise: boolean; settings?: Record<string, string> },
): Promise<NativeCluster> {
  const dataDirectory = path.join(workspace.folder, name);
  const port = await findFreePort();
  if (options.initialise) {
    await workspace.run("initdb", [
      `--pgdata=${dataDirectory}`,
      "--username=postgres",
      "--auth=trust",
      "--no-locale",
      "--encoding=UTF8",
    ]);
  }
  const settings = {
    port: String(port),
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: "''",
    ...options.settings,
  };
  await fs.appendFile(
    path.join(dataDirectory, "postgresql.conf"),
    `\n# added by the test\n${Object.entries(settings)
      .map(([key, value]) => `${key} = ${value}`)
      .join("\n")}\n`,
  );
  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const query = async <T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]> => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    try {
      return (await client.query<T>(sql, values)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    port,
    dataDirectory,
    url,
    query,
    async queryOne<T extends pg.QueryResultRow>(sql: string, values?: unknown[]) {
      const [row] = await query<T>(sql, values);
      if (row === undefined) throw new Error(`no row from: ${sql}`);
      return row;
    },
    async start() {
      await workspace.run("pg_ctl", [
        "start",
        "--wait",
        "--timeout=60",
        `--pgdata=${dataDirectory}`,
        `--log=${dataDirectory}.log`,
      ]);
    },
    async stop(mode = "fast") {
      await workspace.run("pg_ctl", ["stop", "--wait", "--timeout=60", `--mode=${mode}`, `--pgdata=${dataDirectory}`]);
    },
  };
}
