// Reads a V8 CPU profile (.cpuprofile) of the server under one scenario's load: where its time
// goes by package (ours by room of src/, each node_modules package, Node's internals, GC) and by
// function (self time, and total time including callees), per request when the request count is
// known. V8 samples the main thread at a fixed interval whatever it is doing: "(idle)" is time
// spent waiting for I/O, everything else is CPU of that thread (PostgreSQL's and the load
// generator's work are in other processes).
import type { CpuProfile, CpuProfileNode } from "./inspector-profiler.ts";

export interface ProfileSummary {
  durationMs: number;
  busyMs: number;
  requests: number | undefined;
  byPackage: Array<{ name: string; selfMs: number }>;
  bySelf: Array<{ name: string; where: string; selfMs: number }>;
  byTotal: Array<{ name: string; where: string; totalMs: number }>;
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/** The package a frame belongs to: ours by room (src/graphql, bench/…), a node_modules package, Node, V8. */
export function packageOf(frame: CpuProfileNode["callFrame"]): string {
  if (SPECIAL.has(frame.functionName) && frame.url === "") {
    if (frame.functionName === "(garbage collector)") return "GC";
    if (frame.functionName === "(program)") return "V8 (native, outside JS)";
    return frame.functionName;
  }
  const url = frame.url;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) return modules[1]!;
  const ours = /\/(src|bench)\/([^/]+)(\/|\.ts)/.exec(url);
  if (ours && !url.includes("node_modules")) return `ours: ${ours[1]}/${ours[2]}${ours[3] === "/" ? "/" : ".ts"}`;
  if (url.startsWith("node:") || url === "") return "Node.js (built-in)";
  return url;
}

function where(frame: CpuProfileNode["callFrame"]): string {
  if (frame.url === "") return packageOf(frame);
  const file = frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(src|bench)\//, "$1/");
  return `${file}:${frame.lineNumber + 1}`;
}

export function summariseProfile(profile: CpuProfile, requests: number | undefined, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  // Each sample stands for the time until the next one.
  const sampleMs = samples.map((_s, i) => (deltas[i + 1] ?? deltas[i] ?? 0) / 1000);

  const packageSelf = new Map<string, number>();
  const functionSelf = new Map<string, { name: string; where: string; ms: number }>();
  const functionTotal = new Map<string, { name: string; where: string; ms: number }>();
  let busyMs = 0;
  samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const ms = sampleMs[i]!;
    const frame = node.callFrame;
    const pkg = packageOf(frame);
    packageSelf.set(pkg, (packageSelf.get(pkg) ?? 0) + ms);
    if (frame.functionName === "(idle)") return;
    busyMs += ms;
    const key = `${frame.functionName}@${frame.url}:${frame.lineNumber}`;
    const self = functionSelf.get(key) ?? { name: frame.functionName || "(anonymous)", where: where(frame), ms: 0 };
    self.ms += ms;
    functionSelf.set(key, self);
    // Total: every distinct function on the sample's stack, once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (SPECIAL.has(f.functionName)) continue;
      const k = `${f.functionName}@${f.url}:${f.lineNumber}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const total = functionTotal.get(k) ?? { name: f.functionName || "(anonymous)", where: where(f), ms: 0 };
      total.ms += ms;
      functionTotal.set(k, total);
    }
  });
  return {
    durationMs,
    busyMs,
    requests,
    byPackage: [...packageSelf]
      .filter(([name]) => name !== "(idle)")
      .map(([name, selfMs]) => ({ name, selfMs }))
      .sort((a, b) => b.selfMs - a.selfMs),
    bySelf: [...functionSelf.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.ms })),
    byTotal: [...functionTotal.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, totalMs: f.ms })),
  };
}

/** Markdown: the package table and the two function tables, in ms per request where known. */
export function profileMarkdown(title: string, summary: ProfileSummary): string {
  const per = (ms: number) => (summary.requests ? `${(ms / summary.requests).toFixed(3)}` : `${ms.toFixed(0)} ms`);
  const share = (ms: number) => `${((100 * ms) / summary.busyMs).toFixed(1)}%`;
  const unit = summary.requests ? "ms/request" : "ms";
  const lines = [
    `### ${title}`,
    "",
    `${(summary.durationMs / 1000).toFixed(1)} s profiled, main thread busy ${((100 * summary.busyMs) / summary.durationMs).toFixed(0)}%` +
      (summary.requests
        ? `, ${summary.requests} requests: ${(summary.busyMs / summary.requests).toFixed(3)} ms of main-thread CPU per request.`
        : "."),
    "",
    `| package (self time) | ${unit} | share of busy |`,
    "| --- | ---: | ---: |",
    ...summary.byPackage.slice(0, 20).map((p) => `| ${p.name} | ${per(p.selfMs)} | ${share(p.selfMs)} |`),
    "",
    `| function (self time) | where | ${unit} | share |`,
    "| --- | --- | ---: | ---: |",
    ...summary.bySelf.map((f) => `| \`${f.name}\` | ${f.where} | ${per(f.selfMs)} | ${share(f.selfMs)} |`),
    "",
    `| function (total: itself and what it calls) | where | ${unit} | share |`,
    "| --- | --- | ---: | ---: |",
    ...summary.byTotal.map((f) => `| \`${f.name}\` | ${f.where} | ${per(f.totalMs)} | ${share(f.totalMs)} |`),
    "",
  ];
  return lines.join("\n");
}
