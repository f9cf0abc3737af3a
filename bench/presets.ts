// The benchmark data set sizes. Each preset lives in its own database on the same PostgreSQL
// server (prospectflow_bench_<name>), so a seeded preset is reused by later runs.

export interface Preset {
  name: PresetName;
  /** Organisations in total, the last one being the small probe organisation. */
  organisations: number;
  /** How many of them are large (the first ones). */
  large: number;
  /** People (and positions) of each large organisation. */
  largePeople: number;
  /**
   * People of each small organisation, spread over [least, most] (default [150, 500]); the probe
   * always has 300. Left out of quick and full so that their fingerprints stay what they were.
   */
  smallPeople?: [least: number, most: number];
  description: string;
}

export const PRESET_NAMES = ["quick", "full", "scale"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const PRESETS: Record<PresetName, Preset> = {
  quick: {
    name: "quick",
    organisations: 10,
    large: 1,
    largePeople: 10_000,
    description: "10 organisations: 1 large (10,000 people), 8 small, 1 small probe",
  },
  full: {
    name: "full",
    organisations: 1_000,
    large: 10,
    largePeople: 100_000,
    description: "1,000 organisations: 10 large (100,000 people each), 989 small, 1 small probe",
  },
  // Ten times full's tenants at about full's row count: what grows is the number of
  // organisations (statistics, per-organisation index ranges), not the data of each one. Its
  // large organisations are full's size, so their pages compare with full's figures.
  scale: {
    name: "scale",
    organisations: 10_000,
    large: 3,
    largePeople: 100_000,
    smallPeople: [20, 150],
    description: "10,000 organisations: 3 large (100,000 people each), 9,996 small (20–150 people), 1 small probe",
  },
};

/** The small organisations' size range when a preset does not set one. */
export const DEFAULT_SMALL_PEOPLE: [number, number] = [150, 500];

/** `npm run bench` without --preset: seeding it takes about 2.5 minutes on 2 cores. */
export const DEFAULT_PRESET: PresetName = "full";

/**
 * The data set a small organisation's dashboard is compared against: "as fast with 1,000 (or
 * 10,000) organisations present as with 10".
 */
export const BASELINE_PRESET: PresetName = "quick";

export function parsePreset(value: string | undefined, fallback: PresetName): Preset {
  const name = value ?? fallback;
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new Error(`Unknown preset "${name}": use one of ${PRESET_NAMES.join(", ")}.`);
  }
  return PRESETS[name as PresetName];
}

export function benchDatabaseName(preset: Preset): string {
  return `prospectflow_bench_${preset.name}`;
}
