// `npm run bench -- --profile`: after the measured rounds, each scenario's load once more against
// variant a while its inspector records a CPU profile; the profiles are saved beside the results
// (open them in Chrome DevTools or speedscope) with a reading, profiles/README.md.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Scenario } from "../scenarios.ts";
import { connectProfiler } from "./inspector-profiler.ts";
import { profileMarkdown, summariseProfile } from "./profile-summary.ts";

export async function profileScenarios(options: {
  port: number;
  scenarios: Scenario[];
  seconds: number;
  folder: string;
  /** Runs the scenario's load against variant a; returns the number of requests answered. */
  load: (scenario: Scenario) => Promise<number>;
  log: (line: string) => void;
}): Promise<void> {
  mkdirSync(options.folder, { recursive: true });
  const profiler = await connectProfiler(options.port);
  const sections: string[] = [];
  try {
    for (const scenario of options.scenarios) {
      await options.load(scenario); // warm, unrecorded, as before each measured round
      await profiler.start();
      const requests = await options.load(scenario);
      const profile = await profiler.stop();
      const file = `${scenario.id}.cpuprofile`;
      writeFileSync(path.join(options.folder, file), JSON.stringify(profile));
      const summary = summariseProfile(profile, requests);
      options.log(
        `[bench] profile ${scenario.id}: ${requests} requests, ${(summary.busyMs / requests).toFixed(3)} ms of main-thread CPU each`,
      );
      sections.push(profileMarkdown(`${scenario.id} ([${file}](${file}))`, summary));
    }
  } finally {
    profiler.close();
  }
  writeFileSync(
    path.join(options.folder, "README.md"),
    [
      "# CPU profiles of variant a (the shipped API), one per scenario",
      "",
      `Recorded by \`npm run bench -- --profile\`: ${options.seconds} s of each scenario's load after the measured rounds, ` +
        "V8's sampling profiler every 250 µs through the inspector (bench/profile/). Figures are the server's main " +
        "thread only (libuv's threads, PostgreSQL and the load generator are elsewhere); the profiler itself costs a " +
        "little, so the per-request totals are a few percent above the rounds' `cpu/req server`. Open a " +
        ".cpuprofile in Chrome DevTools (Performance → Load profile) or speedscope for the call trees.",
      "",
      ...sections,
    ].join("\n"),
  );
}
