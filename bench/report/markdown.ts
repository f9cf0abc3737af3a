// The run's report as markdown: the table (requests/s, p50, p99, errors, server peak RSS), the
// ratios, the targets, and how it was measured.
import type { Scenario } from "../scenarios.ts";
import {
  TARGETS,
  VARIANTS,
  type BaselineSummaries,
  type CellSummary,
  type Populations,
  type ScenarioSummary,
  type Verdict,
  type VariantId,
} from "./summary.ts";

export interface ReportInput {
  title: string;
  generatedAt: string;
  machineSummary: string;
  method: string[];
  scenarios: Scenario[];
  summaries: ScenarioSummary[];
  baseline: BaselineSummaries;
  smallRatio: number | undefined;
  /** The same ratio for pgbench (the database alone). */
  smallRatioDatabase: number | undefined;
  /** Organisations in the measured preset and in the baseline (default 1,000 and 10). */
  populations?: Populations;
  /** Another run's figures to set beside these (the full preset's committed run for scale). */
  beside?: string;
  verdicts: Verdict[];
  notes: string[];
  chartFile: string | undefined;
}

const number = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value)
    ? "–"
    : value.toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number | undefined) =>
  value === undefined ? "–" : value < 10 ? value.toFixed(2) : value.toFixed(1);
const mib = (bytes: number | undefined) => (bytes === undefined ? "–" : `${(bytes / 1024 / 1024).toFixed(0)} MiB`);
/** Three decimals, so that a value just under a target never prints as the target. */
const precise = (value: number | undefined) => (value === undefined ? "–" : value.toFixed(3));
const cpu = (cell: CellSummary) =>
  `${cell.serverCpuMs === undefined ? "–" : cell.serverCpuMs.toFixed(2)} · ${cell.databaseCpuMs === undefined ? "–" : cell.databaseCpuMs.toFixed(2)}`;
const mark = (met: boolean | undefined) => (met === undefined ? "–" : met ? "✅ met" : "❌ missed");

export function resultsTable(input: Pick<ReportInput, "scenarios" | "summaries" | "baseline">): string {
  const rows = [
    "| scenario | variant | requests/s | p50 ms | p99 ms | errors | server peak RSS | CPU ms/request: server · PostgreSQL |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const summary of input.summaries) {
    for (const variant of Object.keys(VARIANTS) as VariantId[]) {
      const cell = summary.cells[variant];
      if (!cell) continue;
      const extra = cell.lostOpens !== undefined ? ` (lost opens: ${cell.lostOpens})` : "";
      rows.push(
        `| ${summary.scenario} | ${VARIANTS[variant].short} | ${number(cell.requestsPerSecond)} | ${ms(cell.p50Ms)} | ` +
          `${ms(cell.p99Ms)} | ${cell.errors}${extra} | ${mib(cell.peakRssBytes)} | ${cpu(cell)} |`,
      );
    }
    if (summary.scenario === "dashboard-small") {
      for (const [variant, b] of Object.entries(input.baseline) as Array<[VariantId, CellSummary]>) {
        rows.push(
          `| dashboard-small, 10 organisations | ${VARIANTS[variant].short} | ${number(b.requestsPerSecond)} | ${ms(b.p50Ms)} | ${ms(b.p99Ms)} | ` +
            `${b.errors} | ${mib(b.peakRssBytes)} | ${cpu(b)} |`,
        );
      }
    }
  }
  return rows.join("\n");
}

export function ratiosTable(summaries: ScenarioSummary[]): string {
  const rows = [
    "| scenario | a/b: RLS cost (target ≥ 0.90) | a/c: GraphQL cost (target ≥ 0.50 on reads) | a/d: distance to PostgreSQL's limit |",
    "| --- | ---: | ---: | ---: |",
  ];
  for (const s of summaries) {
    const cell = (name: "ab" | "ac" | "ad", goal: number | undefined) => {
      const value = s.ratios[name];
      if (value === undefined) return "–";
      const range = s.ranges[name];
      const spread = range && range[0] !== range[1] ? ` (${range[0].toFixed(2)}–${range[1].toFixed(2)})` : "";
      return `${precise(value)}${spread}${goal === undefined ? "" : value >= goal ? " ✅" : " ❌"}`;
    };
    rows.push(
      `| ${s.scenario} | ${cell("ab", TARGETS.rlsCost)} | ${cell("ac", s.kind === "read" ? TARGETS.graphqlCost : undefined)} | ${cell("ad", undefined)} |`,
    );
  }
  return rows.join("\n");
}

export function verdictTable(verdicts: Verdict[]): string {
  const rows = ["| target | scenario | measured | goal | |", "| --- | --- | ---: | --- | --- |"];
  for (const v of verdicts) {
    const value =
      v.value === undefined
        ? "–"
        : v.target.startsWith("p99")
          ? `${ms(v.value)} ms`
          : v.target.startsWith("Pixel")
            ? number(v.value)
            : v.target.startsWith("Zero")
              ? String(v.value)
              : precise(v.value);
    rows.push(`| ${v.target} | ${v.scenario ?? ""} | ${value} | ${v.goal} | ${mark(v.met)} |`);
  }
  return rows.join("\n");
}

export function renderReport(input: ReportInput): string {
  const scenarioList = input.scenarios.map((s) => `- \`${s.id}\`: ${s.title}`).join("\n");
  return [
    `# ${input.title}`,
    "",
    `Generated ${input.generatedAt} by \`npm run bench\`. ${input.machineSummary}`,
    "",
    ...(input.chartFile ? [`![Throughput and p99 latency per scenario and variant](${input.chartFile})`, ""] : []),
    "## Results (medians over rounds)",
    "",
    resultsTable(input),
    "",
    "Variants:",
    "",
    ...(Object.keys(VARIANTS) as VariantId[]).map((v) => `- ${VARIANTS[v].label}`),
    "",
    "## Ratios (throughput, per round then the median; lowest–highest round in brackets)",
    "",
    ratiosTable(input.summaries),
    "",
    `Small organisation's dashboard, throughput with ${(input.populations?.baselineOrganisations ?? 10).toLocaleString("en-GB")} organisations / ` +
      `with this preset's ${(input.populations?.organisations ?? 1_000).toLocaleString("en-GB")}: ${precise(input.smallRatio)} ` +
      `through the API (a; target ≤ ${TARGETS.smallOrganisation.toFixed(2)}), ${precise(input.smallRatioDatabase)} in the database alone (d).`,
    "",
    ...(input.beside ? [input.beside, ""] : []),
    "## Targets",
    "",
    verdictTable(input.verdicts),
    "",
    "## Scenarios",
    "",
    scenarioList,
    "",
    "## How this was measured",
    "",
    ...input.method.map((line) => `- ${line}`),
    ...(input.notes.length > 0 ? ["", "## Notes from this run", "", ...input.notes.map((line) => `- ${line}`)] : []),
    "",
  ].join("\n");
}
