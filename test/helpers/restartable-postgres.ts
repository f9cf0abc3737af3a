// A throwaway embedded PostgreSQL 18 that a test can stop and start again on the same port, under
// a running server: the fault tests pull the database away and bring it back. Started with the
// project's own embedded-postgres module; stopped and restarted with pg_ctl, which reuses the
// options the server was started with (postmaster.opts), port included.
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../src/db/embedded-postgres.ts";
import { createLogger } from "../../src/logger.ts";

const execFileAsync = promisify(execFile);

export interface RestartablePostgres {
  port: number;
  /** Superuser URL of the maintenance database. */
  rootUrl: string;
  /** fast: clients are disconnected (57P01); immediate: the server dies without cleaning up. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP to the server and all its processes: it accepts TCP connections but never answers. */
  freeze(): Promise<void>;
  /** SIGCONT: the frozen server carries on. */
  thaw(): Promise<void>;
  /** Stops the server and deletes its files. */
  destroy(): Promise<void>;
}

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), "prospectflow-fault-"));
  await fs.chmod(folder, 0o755);
  const clusterDirectory = path.join(folder, "postgres");
  const embedded: EmbeddedPostgres = await startEmbeddedPostgres({
    dataDir: folder,
    clusterDirectory,
    logger: createLogger("silent"),
  });
  // pg_ctl sits next to the postgres binary the server was started with.
  const options = await fs.readFile(path.join(clusterDirectory, "postmaster.opts"), "utf8");
  const postgresBinary = /^(\S+)/.exec(options)?.[1];
  if (postgresBinary === undefined) throw new Error(`cannot read the postgres binary from postmaster.opts: ${options}`);
  const pgCtl = path.join(path.dirname(postgresBinary), "pg_ctl");
  const { uid, gid } = await fs.stat(clusterDirectory);
  const runAsOwner = process.getuid?.() === 0 ? { uid, gid } : {};
  const pgCtlRun = (args: string[]) =>
    execFileAsync(pgCtl, [...args, `--pgdata=${clusterDirectory}`], {
      ...runAsOwner,
      cwd: os.tmpdir(),
      env: { ...process.env, LC_ALL: "C" },
    });

  let running = true;
  const signalAll = async (signal: NodeJS.Signals, order: "parent first" | "children first") => {
    const processes = await serverProcesses(clusterDirectory);
    for (const pid of order === "parent first" ? processes : processes.reverse()) process.kill(pid, signal);
  };
  return {
    port: embedded.port,
    rootUrl: embedded.urls.rootUrl!,
    async stop(mode = "fast") {
      await pgCtlRun(["stop", "--wait", "--timeout=60", `--mode=${mode}`]);
      running = false;
    },
    async start() {
      // With no server running, `restart` starts one with the options in postmaster.opts.
      await pgCtlRun(["restart", "--wait", "--timeout=60", `--log=${path.join(clusterDirectory, "server.log")}`]);
      running = true;
    },
    freeze: () => signalAll("SIGSTOP", "parent first"),
    thaw: () => signalAll("SIGCONT", "children first"),
    async destroy() {
      if (running) await signalAll("SIGCONT", "children first").catch(() => {});
      if (running) await pgCtlRun(["stop", "--wait", "--timeout=60", "--mode=immediate"]).catch(() => {});
      running = false;
      await fs.rm(folder, { recursive: true, force: true });
    },
  };
}

/** The postmaster (from postmaster.pid) followed by its children (from /proc): this cluster only. */
async function serverProcesses(clusterDirectory: string): Promise<number[]> {
  const postmaster = Number((await fs.readFile(path.join(clusterDirectory, "postmaster.pid"), "utf8")).split("\n")[0]);
  const children: number[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // "pid (comm) state ppid …": the command may contain spaces, so read after the last ")".
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (parent === postmaster) children.push(Number(entry));
  }
  return [postmaster, ...children];
}
