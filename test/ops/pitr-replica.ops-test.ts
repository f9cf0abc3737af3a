// The point-in-time recovery and read-replica procedures of docs/OPERATIONS.md, run with Debian's
// PostgreSQL server binaries on whole clusters of the test's own (the compose services that
// wrap them cannot run here): WAL archived with the compose archive_command, a base backup, a
// recovery to a moment between two commits; a standby made with pg_basebackup
// --write-recovery-conf that streams the primary's writes and refuses its own.
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createWorkspace,
  debianServerBinaries,
  nativeCluster,
  type NativeCluster,
  type Workspace,
} from "../helpers/native-cluster.ts";

let workspace: Workspace;
let primary: NativeCluster;
let archive: string;
const started: NativeCluster[] = [];

beforeAll(async () => {
  workspace = await createWorkspace(await debianServerBinaries());
  archive = path.join(workspace.folder, "wal-archive");
  await fs.mkdir(archive);
  const { uid, gid } = await fs.stat(workspace.folder);
  await fs.chown(archive, uid, gid);
  primary = await nativeCluster(workspace, "primary", {
    initialise: true,
    settings: {
      wal_level: "replica",
      archive_mode: "on",
      // The compose file's archive_command, with the test's folder for /wal-archive.
      archive_command: `'test ! -f ${archive}/%f && cp %p ${archive}/%f'`,
      max_wal_senders: "5",
      wal_keep_size: "'64MB'",
    },
  });
  await primary.start();
  started.push(primary);
  await primary.query("create table ledger (n int primary key, at timestamptz not null default clock_timestamp())");
});

afterAll(async () => {
  for (const cluster of started.reverse()) await cluster.stop("immediate").catch(() => {});
  await workspace?.remove();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("point-in-time recovery", () => {
  it("recovers a base backup plus archived WAL to a moment between two commits", async () => {
    await primary.query("insert into ledger (n) select generate_series(1, 100)");
    await workspace.run("pg_basebackup", [
      `--dbname=${primary.url()}`,
      `--pgdata=${path.join(workspace.folder, "base")}`,
      "--wal-method=none",
      "--checkpoint=fast",
    ]);
    await primary.query("insert into ledger (n) select generate_series(101, 200)");
    const { target } = await primary.queryOne<{ target: string }>("select clock_timestamp()::text as target");
    await new Promise((resolve) => setTimeout(resolve, 50));
    await primary.query("insert into ledger (n) select generate_series(201, 300)");
    const { segment } = await primary.queryOne<{ segment: string }>(
      "select pg_walfile_name(pg_switch_wal()) as segment",
    );
    await waitFor("the last segment to be archived", async () => {
      const [row] = await primary.query<{ last: string | null }>(
        "select last_archived_wal as last from pg_stat_archiver",
      );
      return row?.last !== null && row!.last >= segment ? true : undefined;
    });

    await fs.rename(path.join(workspace.folder, "base"), path.join(workspace.folder, "recovered"));
    const recovered = await nativeCluster(workspace, "recovered", {
      initialise: false,
      settings: {
        archive_mode: "off",
        restore_command: `'cp ${archive}/%f %p'`,
        recovery_target_time: `'${target}'`,
        recovery_target_action: "'promote'",
      },
    });
    await fs.writeFile(path.join(recovered.dataDirectory, "recovery.signal"), "");
    const { uid, gid } = await fs.stat(workspace.folder);
    await fs.chown(path.join(recovered.dataDirectory, "recovery.signal"), uid, gid);
    await recovered.start();
    started.push(recovered);
    await waitFor("recovery to end", async () => {
      const [row] = await recovered.query<{ recovering: boolean }>("select pg_is_in_recovery() as recovering");
      return row?.recovering === false ? true : undefined;
    });
    const { count, max } = await recovered.queryOne<{ count: number; max: number }>(
      "select count(*)::int as count, max(n) as max from ledger",
    );
    expect({ count, max }).toEqual({ count: 200, max: 200 });
    const { total } = await primary.queryOne<{ total: number }>("select count(*)::int as total from ledger");
    expect(total).toBe(300);
  });
});

describe("a streaming read replica", () => {
  it("follows the primary's writes and refuses writes of its own", async () => {
    const directory = path.join(workspace.folder, "replica");
    await workspace.run("pg_basebackup", [
      `--dbname=${primary.url()}`,
      `--pgdata=${directory}`,
      "--wal-method=stream",
      "--write-recovery-conf",
      "--checkpoint=fast",
    ]);
    const replica = await nativeCluster(workspace, "replica", {
      initialise: false,
      settings: { archive_mode: "off", hot_standby: "on" },
    });
    await replica.start();
    started.push(replica);

    await primary.query("insert into ledger (n) values (1001)");
    const seen = await waitFor("the replica to replay the write", async () => {
      const rows = await replica.query<{ n: number }>("select n from ledger where n = 1001");
      return rows.length === 1 ? rows[0]!.n : undefined;
    });
    expect(seen).toBe(1001);
    const { recovering } = await replica.queryOne<{ recovering: boolean }>("select pg_is_in_recovery() as recovering");
    expect(recovering).toBe(true);
    await expect(replica.query("insert into ledger (n) values (1002)")).rejects.toMatchObject({ code: "25006" });
    const streaming = await primary.query<{ state: string }>("select state from pg_stat_replication");
    expect(streaming.map((row) => row.state)).toEqual(["streaming"]);
  });
});
