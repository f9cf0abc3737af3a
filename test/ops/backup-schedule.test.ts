// The backup service's daily schedule (`npm run db:backup -- full --daily-at HH:MM`): the next run
// is the next UTC occurrence of that time, the job runs when it is due and again a day later, a
// failed run does not stop the schedule, and the process exits 0 on SIGTERM.
import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { projectRoot } from "../../src/config.ts";
import { nextOccurrence, parseTimeOfDay, runDaily } from "../../src/ops/daily-schedule.ts";
import { runCli } from "../helpers/cli.ts";
import { serverEnvironment } from "../helpers/server-process.ts";

const NOWHERE = {
  DATABASE_URL: "postgres://owner:x@127.0.0.1:1/app",
  AUTH_DATABASE_URL: "postgres://auth@127.0.0.1:1/app",
};

afterEach(() => {
  vi.useRealTimers();
});

describe("the next backup time", () => {
  it.each([
    ["2026-03-10T01:59:00.000Z", "2026-03-10T02:00:00.000Z"],
    ["2026-03-10T02:00:00.000Z", "2026-03-11T02:00:00.000Z"],
    ["2026-03-10T23:30:00.000Z", "2026-03-11T02:00:00.000Z"],
    ["2026-12-31T03:00:00.000Z", "2027-01-01T02:00:00.000Z"],
  ])("after %s is %s (02:00 UTC)", (after, expected) => {
    expect(nextOccurrence(new Date(after), { hours: 2, minutes: 0 }).toISOString()).toBe(expected);
  });

  it.each(["24:00", "2:00", "02:60", "noon", ""])("rejects %j as a time of day", (text) => {
    expect(parseTimeOfDay(text)).toBeUndefined();
  });
});

describe("the daily loop", () => {
  it("runs the job when due and a day later, survives a failed run, and stops when asked", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-03-10T01:59:59.000Z"));
    const runs: string[] = [];
    const errors: unknown[] = [];
    const announced: string[] = [];
    const stop = new AbortController();
    const loop = runDaily(
      { hours: 2, minutes: 0 },
      {
        run: async () => {
          runs.push(new Date().toISOString());
          if (runs.length === 1) throw new Error("disk full");
        },
        onError: (error) => errors.push(error),
        onNext: (at) => announced.push(at.toISOString()),
      },
      stop.signal,
    );
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(24 * 60 * 60 * 1000);
    stop.abort();
    await loop;
    expect(runs).toEqual(["2026-03-10T02:00:00.000Z", "2026-03-11T02:00:00.000Z"]);
    expect(errors).toHaveLength(1);
    expect(announced).toEqual(["2026-03-10T02:00:00.000Z", "2026-03-11T02:00:00.000Z", "2026-03-12T02:00:00.000Z"]);
  });
});

describe("npm run db:backup -- --daily-at", () => {
  it("announces the next run and exits 0 on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      [path.join(projectRoot, "src/cli/backup.ts"), "full", "--daily-at", "03:30"],
      {
        cwd: projectRoot,
        env: serverEnvironment(NOWHERE),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    for (let waited = 0; !output.includes("Next backup at") && waited < 20_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const announced = /Next backup at (\S+)/.exec(output)?.[1];
    expect(announced).toBe(nextOccurrence(new Date(), { hours: 3, minutes: 30 }).toISOString());
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toContain("Stopped.");
  });

  it("refuses a malformed time with the usage", async () => {
    const result = await runCli("src/cli/backup.ts", ["--daily-at", "25:00"], NOWHERE);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--daily-at wants a UTC time as HH:MM (00:00 to 23:59), got "25:00"');
  });
});
