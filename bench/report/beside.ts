// Another run's figures set beside this run's, scenario by scenario: the scale preset (10,000
// organisations) is read beside the full preset's committed run (1,000). The other run is read
// from its results.json; by default the one bench/results/latest.md links to.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { VARIANTS, type CellSummary, type ScenarioSummary, type VariantId } from "./summary.ts";

export interface OtherRun {
  /** The results.json it was read from. */
  file: string;
  preset: string;
  organisations: number | undefined;
  generatedAt: string | undefined;
  summaries: ScenarioSummary[];
  baseline: Partial<Record<VariantId, CellSummary>>;
  smallRatio: number | undefined;
}

interface ResultsJson {
  options?: { preset?: { name?: string; organisations?: number } };
  machine?: { loadAverageAtStart?: number[] };
  seed?: { seededAt?: string };
  summaries?: ScenarioSummary[];
  baseline?: Partial<Record<VariantId, CellSummary>>;
  smallRatio?: number;
  generatedAt?: string;
}

/** The results.json that a latest.md links to (`[results.json](<run>/results.json)`), if any. */
export function latestResultsFile(latestMarkdownFile: string): string | undefined {
  if (!existsSync(latestMarkdownFile)) return undefined;
  const match = /\]\(([^)\s]+\/results\.json)\)/.exec(readFileSync(latestMarkdownFile, "utf8"));
  if (!match) return undefined;
  const file = path.resolve(path.dirname(latestMarkdownFile), match[1]!);
  return existsSync(file) ? file : undefined;
}

export function readOtherRun(file: string): OtherRun {
  const json = JSON.parse(readFileSync(file, "utf8")) as ResultsJson;
  if (!Array.isArray(json.summaries)) throw new Error(`${file} has no summaries: is it a bench results.json?`);
  // The run folder is named after the run's start time (2026-12-01T14-04-05Z).
  const folder = path.basename(path.dirname(file));
  const stamp = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})Z$/.exec(folder);
  return {
    file,
    preset: json.options?.preset?.name ?? "?",
    organisations: json.options?.preset?.organisations,
    generatedAt: stamp ? `${stamp[1]}T${stamp[2]}:${stamp[3]}:${stamp[4]}Z` : json.generatedAt,
    summaries: json.summaries,
    baseline: json.baseline ?? {},
    smallRatio: json.smallRatio,
  };
}

const rps = (cell: CellSummary | undefined) =>
  cell?.requestsPerSecond === undefined ? "–" : Math.round(cell.requestsPerSecond).toLocaleString("en-GB");
const p99 = (cell: CellSummary | undefined) => (cell?.p99Ms === undefined ? "–" : cell.p99Ms.toFixed(1));
const cpu = (cell: CellSummary | undefined) =>
  cell === undefined
    ? "–"
    : `${cell.serverCpuMs === undefined ? "–" : cell.serverCpuMs.toFixed(2)} · ${cell.databaseCpuMs === undefined ? "–" : cell.databaseCpuMs.toFixed(2)}`;

/**
 * Markdown: for every scenario and variant measured in this run, this run's figures and the
 * other run's, and this/other throughput (1.00: the same; these are two runs, minutes or days
 * apart: read it with the machine's business in both).
 */
export function besideSection(input: {
  presetName: string;
  organisations: number;
  summaries: ScenarioSummary[];
  smallRatio: number | undefined;
  other: OtherRun;
  relativeFile: string;
}): string {
  const { other } = input;
  const here = input.presetName;
  const there = other.preset;
  const rows = [
    `| scenario | variant | req/s ${there} | req/s ${here} | ${here}/${there} | p99 ms ${there} | p99 ms ${here} | CPU ms/request server · PostgreSQL, ${there} | ${here} |`,
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const summary of input.summaries) {
    const theirs = other.summaries.find((s) => s.scenario === summary.scenario);
    for (const variant of Object.keys(VARIANTS) as VariantId[]) {
      const mine = summary.cells[variant];
      if (!mine) continue;
      const their = theirs?.cells[variant];
      const ratio =
        mine.requestsPerSecond !== undefined && their?.requestsPerSecond
          ? (mine.requestsPerSecond / their.requestsPerSecond).toFixed(2)
          : "–";
      rows.push(
        `| ${summary.scenario} | ${VARIANTS[variant].short} | ${rps(their)} | ${rps(mine)} | ${ratio} | ${p99(their)} | ${p99(mine)} | ${cpu(their)} | ${cpu(mine)} |`,
      );
    }
  }
  const count = (n: number | undefined) => (n === undefined ? "?" : n.toLocaleString("en-GB"));
  const ratio = (n: number | undefined) => (n === undefined ? "–" : n.toFixed(3));
  return [
    `## Beside the \`${there}\` preset`,
    "",
    `This run (${count(input.organisations)} organisations) beside the \`${there}\` run of ${other.generatedAt ?? "?"} ` +
      `(${count(other.organisations)} organisations; [results.json](${input.relativeFile})). Two runs, at different times: ` +
      "the machine's other load differs (see the notes of each); the per-request CPU figures move less than throughput.",
    "",
    rows.join("\n"),
    "",
    `Small organisation's dashboard, throughput among 10 / among all: ${ratio(input.smallRatio)} here (${count(input.organisations)}), ` +
      `${ratio(other.smallRatio)} in the \`${there}\` run (${count(other.organisations)}).`,
  ].join("\n");
}
