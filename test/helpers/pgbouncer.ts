// Runs the real PgBouncer (Debian's package, installed by scripts/install-pgbouncer.sh) with the
// configuration scripts/pgbouncer-config.sh renders for the compose stack, on a free loopback port.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "../../src/config.ts";
import { findFreePort } from "../../src/db/embedded-postgres.ts";

const execFileAsync = promisify(execFile);

export interface PgBouncerOptions {
  database: string;
  authUser: string;
  authPassword: string;
  postgresHost: string;
  postgresPort: number;
  maxServerConnections: number;
  queryWaitTimeoutSeconds?: number;
  queryTimeoutSeconds?: number;
  /** A read replica: adds the database entry `<database>_replica` on it (PGBOUNCER_REPLICA_HOST). */
  replica?: { host: string; port: number };
}

export interface RunningPgBouncer {
  port: number;
  /** The same database through PgBouncer, logged in as `user`. */
  urlFor(user: string, password: string): string;
  /** The rendered pgbouncer.ini, for assertions on what a deployment gets. */
  config: string;
  stop(): Promise<void>;
}

export function pgbouncerBinary(): string {
  for (const candidate of ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error("pgbouncer is not installed: run scripts/install-pgbouncer.sh (apt-get install pgbouncer) first.");
}

/** PgBouncer refuses to run as root; as root we run it as the postgres system user. */
async function unprivilegedUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout: uid } = await execFileAsync("id", ["-u", "postgres"]);
  const { stdout: gid } = await execFileAsync("id", ["-g", "postgres"]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<RunningPgBouncer> {
  const binary = pgbouncerBinary();
  const port = await findFreePort();
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), "prospectflow-pgbouncer-"));
  await fs.chmod(folder, 0o755);
  await execFileAsync("bash", [path.join(projectRoot, "scripts/pgbouncer-config.sh"), folder], {
    env: {
      ...process.env,
      PGBOUNCER_DATABASE: options.database,
      PGBOUNCER_AUTH_USER: options.authUser,
      PGBOUNCER_AUTH_PASSWORD: options.authPassword,
      POSTGRES_HOST: options.postgresHost,
      POSTGRES_PORT: String(options.postgresPort),
      PGBOUNCER_LISTEN_ADDR: "127.0.0.1",
      PGBOUNCER_LISTEN_PORT: String(port),
      PGBOUNCER_MAX_SERVER_CONNECTIONS: String(options.maxServerConnections),
      PGBOUNCER_QUERY_WAIT_TIMEOUT: String(options.queryWaitTimeoutSeconds ?? 10),
      PGBOUNCER_QUERY_TIMEOUT: String(options.queryTimeoutSeconds ?? 30),
      ...(options.replica
        ? { PGBOUNCER_REPLICA_HOST: options.replica.host, PGBOUNCER_REPLICA_PORT: String(options.replica.port) }
        : {}),
    },
  });
  const user = await unprivilegedUser();
  if (user) {
    for (const file of [folder, path.join(folder, "pgbouncer.ini"), path.join(folder, "userlist.txt")]) {
      await fs.chown(file, user.uid, user.gid);
    }
  }
  const config = await fs.readFile(path.join(folder, "pgbouncer.ini"), "utf8");
  const child: ChildProcess = spawn(binary, [path.join(folder, "pgbouncer.ini")], {
    ...(user ?? {}),
    cwd: folder,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitForPort(
    port,
    10_000,
    () => child.exitCode !== null,
    () => log,
  );

  return {
    port,
    config,
    urlFor(role, password) {
      return `postgres://${encodeURIComponent(role)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${options.database}`;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await fs.rm(folder, { recursive: true, force: true });
    },
  };
}

async function waitForPort(
  port: number,
  timeoutMs: number,
  hasExited: () => boolean,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error(`pgbouncer exited before listening:\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`pgbouncer did not listen on ${port} within ${timeoutMs} ms:\n${log()}`);
}
