// CPU time of processes, from /proc (Linux): a server process, and the PostgreSQL backends
// serving one database (found by their process title, "postgres: <user> <database> …").
import { readFileSync, readdirSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat (sysconf(_SC_CLK_TCK); 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of a process, or undefined if it is gone or /proc is unavailable. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function backendPids(database: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const title = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (title.startsWith("postgres: ") && title.split(" ")[2] === database) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/**
 * Sums the CPU the backends of one database use while it runs: sampled every 100 ms, so a
 * backend that starts during the window counts from zero and one that ends loses at most the
 * last 100 ms.
 */
export class DatabaseCpuMeter {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly database: string;

  constructor(database: string) {
    this.database = database;
  }

  start(): void {
    this.first.clear();
    this.last.clear();
    for (const pid of backendPids(this.database)) {
      const cpu = cpuSeconds(pid);
      if (cpu !== undefined) {
        this.first.set(pid, cpu);
        this.last.set(pid, cpu);
      }
    }
    this.timer = setInterval(() => this.sample(), 100);
  }

  private sample(): void {
    for (const pid of backendPids(this.database)) {
      const cpu = cpuSeconds(pid);
      if (cpu === undefined) continue;
      if (!this.first.has(pid)) this.first.set(pid, 0);
      this.last.set(pid, cpu);
    }
  }

  /** CPU seconds used by the database's backends since start(). */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    let total = 0;
    for (const [pid, cpu] of this.last) total += cpu - (this.first.get(pid) ?? 0);
    return total;
  }
}

/** Busy and total CPU seconds of the whole machine so far (all cores), from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq! + steal!;
    return { busy: busy / TICKS_PER_SECOND, total: (busy + idle! + iowait!) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}
