// Turns the rounds of a run into medians, ratios between variants (per round, then the median)
// and a verdict per target. Pure functions: bench/run.ts measures, this only computes.
import type { LoadMeasurement } from "../load/http-load.ts";
import { maximum, median } from "../load/stats.ts";
import type { ScenarioId } from "../scenarios.ts";

export type VariantId = "a" | "b" | "c" | "d";
/** Where a cell ran: the preset's database, or the 10-organisation baseline (small-org target). */
export type Dataset = "main" | "baseline";

export const VARIANTS: Record<VariantId, { label: string; short: string }> = {
  a: { label: "a) API as shipped: PostGraphile, RLS on, JWT verified", short: "a API" },
  b: { label: "b) same API, RLS bypassed (BYPASSRLS role + explicit organisation filter)", short: "b no RLS" },
  c: { label: "c) express + pg, the same SQL by hand, RLS on", short: "c SQL" },
  d: { label: "d) pgbench, the same SQL, straight to PostgreSQL", short: "d pgbench" },
};

export interface RoundMeasurement extends LoadMeasurement {
  round: number;
  /** Peak resident memory of the server process during the round (a, b, c). */
  peakRssBytes?: number;
  /** Pixel: opens answered 2xx minus opens found in the database afterwards (negative: in flight at the cut). */
  lostOpens?: number;
  /** CPU milliseconds per request: the server process (a, b, c), the database's backends, the load generator. */
  serverCpuMs?: number;
  databaseCpuMs?: number;
  loadGeneratorCpuMs?: number;
  /**
   * Share of the machine's CPU (all cores) that was busy during the measurement, and the part of
   * it used by processes other than this server, its database backends and the load generator
   * (other people's work on a shared machine; for d, pgbench itself too).
   */
  machineBusyPercent?: number;
  otherProcessesPercent?: number;
}

export interface CellKey {
  scenario: ScenarioId;
  variant: VariantId;
  dataset: Dataset;
}

export interface Cell extends CellKey {
  rounds: RoundMeasurement[];
}

export interface CellSummary extends CellKey {
  rounds: number;
  requestsPerSecond: number | undefined;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Summed over all rounds. */
  errors: number;
  requests: number;
  peakRssBytes: number | undefined;
  lostOpens: number | undefined;
  serverCpuMs: number | undefined;
  databaseCpuMs: number | undefined;
  loadGeneratorCpuMs: number | undefined;
}

const medianOf = (rounds: RoundMeasurement[], pick: (r: RoundMeasurement) => number | undefined) =>
  median(
    rounds.flatMap((r) => {
      const value = pick(r);
      return value === undefined ? [] : [value];
    }),
  );

export function summariseCell(cell: Cell): CellSummary {
  const lost = cell.rounds.map((r) => r.lostOpens).filter((v): v is number => v !== undefined);
  return {
    scenario: cell.scenario,
    variant: cell.variant,
    dataset: cell.dataset,
    rounds: cell.rounds.length,
    requestsPerSecond: median(cell.rounds.map((r) => r.requestsPerSecond)),
    p50Ms: medianOf(cell.rounds, (r) => r.p50Ms),
    p99Ms: medianOf(cell.rounds, (r) => r.p99Ms),
    errors: cell.rounds.reduce((total, r) => total + r.errors, 0),
    requests: cell.rounds.reduce((total, r) => total + r.requests, 0),
    peakRssBytes: maximum(cell.rounds.map((r) => r.peakRssBytes)),
    // Lost opens can only be positive; in-flight opens at the cut land in the database anyway.
    lostOpens: lost.length === 0 ? undefined : lost.reduce((total, v) => total + Math.max(0, v), 0),
    serverCpuMs: medianOf(cell.rounds, (r) => r.serverCpuMs),
    databaseCpuMs: medianOf(cell.rounds, (r) => r.databaseCpuMs),
    loadGeneratorCpuMs: medianOf(cell.rounds, (r) => r.loadGeneratorCpuMs),
  };
}

/** (throughput of x) / (throughput of y) for each round, both measured in the same round. */
export function roundRatios(x: Cell | undefined, y: Cell | undefined): number[] {
  if (!x || !y) return [];
  const ratios: number[] = [];
  for (const round of x.rounds) {
    const other = y.rounds.find((r) => r.round === round.round);
    if (other && other.requestsPerSecond > 0) ratios.push(round.requestsPerSecond / other.requestsPerSecond);
  }
  return ratios;
}

/** Median over rounds of (throughput of x) / (throughput of y), both measured in the same round. */
export function roundRatio(x: Cell | undefined, y: Cell | undefined): number | undefined {
  return median(roundRatios(x, y));
}

export interface Targets {
  rlsCost: number;
  graphqlCost: number;
  smallOrganisation: number;
  p99Ms: number;
  pixelOpensPerSecond: number;
}

/** The targets, reported against (not enforced as tests). */
export const TARGETS: Targets = {
  rlsCost: 0.9,
  graphqlCost: 0.5,
  smallOrganisation: 1.2,
  p99Ms: 60,
  pixelOpensPerSecond: 2000,
};

export interface ScenarioSummary {
  scenario: ScenarioId;
  kind: "read" | "write" | "pixel";
  cells: Partial<Record<VariantId, CellSummary>>;
  /** a/b, a/c, a/d: medians of per-round throughput ratios. */
  ratios: Partial<Record<"ab" | "ac" | "ad", number>>;
  /** The lowest and highest per-round ratio, to show the spread. */
  ranges: Partial<Record<"ab" | "ac" | "ad", [number, number]>>;
}

export interface Verdict {
  target: string;
  scenario?: ScenarioId;
  value: number | undefined;
  goal: string;
  met: boolean | undefined;
}

export function findCell(cells: Cell[], key: CellKey): Cell | undefined {
  return cells.find((c) => c.scenario === key.scenario && c.variant === key.variant && c.dataset === key.dataset);
}

export function summariseScenario(cells: Cell[], scenario: ScenarioId, kind: ScenarioSummary["kind"]): ScenarioSummary {
  const at = (variant: VariantId) => findCell(cells, { scenario, variant, dataset: "main" });
  const summaries: Partial<Record<VariantId, CellSummary>> = {};
  for (const variant of Object.keys(VARIANTS) as VariantId[]) {
    const cell = at(variant);
    if (cell) summaries[variant] = summariseCell(cell);
  }
  const ratios: ScenarioSummary["ratios"] = {};
  const ranges: ScenarioSummary["ranges"] = {};
  for (const [name, other] of [
    ["ab", "b"],
    ["ac", "c"],
    ["ad", "d"],
  ] as const) {
    const perRound = roundRatios(at("a"), at(other));
    const value = median(perRound);
    if (value !== undefined) {
      ratios[name] = value;
      ranges[name] = [Math.min(...perRound), Math.max(...perRound)];
    }
  }
  return { scenario, kind, cells: summaries, ratios, ranges };
}

/** The small organisation's dashboard on the 10-organisation data set, per variant measured there (a, d). */
export type BaselineSummaries = Partial<Record<VariantId, CellSummary>>;

/**
 * Small organisation: throughput with 10 organisations / with the preset's (≤ 1.2 means "as
 * fast"), for the API (a, the target) or the database alone (d).
 */
export function smallOrganisationRatio(cells: Cell[], variant: VariantId = "a"): number | undefined {
  return roundRatio(
    findCell(cells, { scenario: "dashboard-small", variant, dataset: "baseline" }),
    findCell(cells, { scenario: "dashboard-small", variant, dataset: "main" }),
  );
}

/** How many organisations the small-organisation comparison sets side by side. */
export interface Populations {
  /** In the measured preset (1,000 for full, 10,000 for scale). */
  organisations: number;
  /** In the baseline preset (10). */
  baselineOrganisations: number;
}

const count = (n: number) => n.toLocaleString("en-GB");

export function verdicts(
  scenarios: ScenarioSummary[],
  smallRatio: number | undefined,
  targets: Targets = TARGETS,
  populations: Populations = { organisations: 1_000, baselineOrganisations: 10 },
): Verdict[] {
  const list: Verdict[] = [];
  const check = (value: number | undefined, ok: (v: number) => boolean) =>
    value === undefined ? undefined : ok(value);
  for (const s of scenarios) {
    if (s.ratios.ab !== undefined || s.kind !== "pixel") {
      list.push({
        target: "RLS costs at most 10% (a/b)",
        scenario: s.scenario,
        value: s.ratios.ab,
        goal: `≥ ${targets.rlsCost.toFixed(2)}`,
        met: check(s.ratios.ab, (v) => v >= targets.rlsCost),
      });
    }
  }
  for (const s of scenarios.filter((x) => x.kind === "read")) {
    list.push({
      target: "GraphQL costs at most half (a/c)",
      scenario: s.scenario,
      value: s.ratios.ac,
      goal: `≥ ${targets.graphqlCost.toFixed(2)}`,
      met: check(s.ratios.ac, (v) => v >= targets.graphqlCost),
    });
  }
  list.push({
    target:
      `Small organisation as fast among ${count(populations.organisations)} as among ${count(populations.baselineOrganisations)} ` +
      `(a: rps with ${count(populations.baselineOrganisations)} / rps with all)`,
    scenario: "dashboard-small",
    value: smallRatio,
    goal: `≤ ${targets.smallOrganisation.toFixed(2)}`,
    met: check(smallRatio, (v) => v <= targets.smallOrganisation),
  });
  for (const s of scenarios.filter((x) => x.kind === "read")) {
    const p99 = s.cells.a?.p99Ms;
    list.push({
      target: "p99 under 60 ms (a, 16 connections)",
      scenario: s.scenario,
      value: p99,
      goal: `< ${targets.p99Ms} ms`,
      met: check(p99, (v) => v < targets.p99Ms),
    });
  }
  for (const s of scenarios.filter((x) => x.kind === "pixel")) {
    const pixel = s.cells.a;
    list.push({
      target: "Pixel sustains 2,000 opens/s (a)",
      scenario: s.scenario,
      value: pixel?.requestsPerSecond,
      goal: `≥ ${targets.pixelOpensPerSecond}`,
      met: check(pixel?.requestsPerSecond, (v) => v >= targets.pixelOpensPerSecond),
    });
    list.push({
      target: "Zero lost opens (2xx answers vs opens the server counted or deduplicated; pgbench: events written)",
      scenario: s.scenario,
      value: pixel?.lostOpens,
      goal: "= 0",
      met: pixel?.lostOpens === undefined ? undefined : pixel.lostOpens === 0 && pixel.errors === 0,
    });
  }
  return list;
}
