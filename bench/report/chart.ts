// The run's chart: throughput (log scale) and p99 latency per scenario and variant, drawn as
// SVG by hand and rendered to PNG with @resvg/resvg-js (prebuilt binaries inside the npm package).
import { Resvg } from "@resvg/resvg-js";
import {
  TARGETS,
  VARIANTS,
  type BaselineSummaries,
  type CellSummary,
  type ScenarioSummary,
  type VariantId,
} from "./summary.ts";

const COLOURS: Record<VariantId, string> = {
  a: "#1f77b4",
  b: "#ff7f0e",
  c: "#2ca02c",
  d: "#7f7f7f",
};
/** The same variants on the 10-organisation data set. */
const BASELINE_COLOURS: Partial<Record<VariantId, string>> = { a: "#9467bd", d: "#c5b0d5" };

interface Bar {
  label: string;
  colour: string;
  value: number | undefined;
}

interface Group {
  title: string;
  bars: Bar[];
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw) ?? 10 * power;
}

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function groups(
  summaries: ScenarioSummary[],
  baseline: BaselineSummaries,
  pick: (cell: CellSummary) => number | undefined,
  variants: VariantId[],
): Group[] {
  return summaries.map((s) => {
    const bars: Bar[] = variants.flatMap((variant) => {
      const cell = s.cells[variant];
      return cell ? [{ label: VARIANTS[variant].short, colour: COLOURS[variant], value: pick(cell) }] : [];
    });
    if (s.scenario === "dashboard-small") {
      for (const [variant, cell] of Object.entries(baseline) as Array<[VariantId, CellSummary]>) {
        bars.push({ label: `${variant}, 10 orgs`, colour: BASELINE_COLOURS[variant] ?? "#999", value: pick(cell) });
      }
    }
    return { title: s.scenario, bars };
  });
}

/** One panel of horizontal grouped bars; returns its SVG and height. */
function panel(options: {
  top: number;
  width: number;
  title: string;
  groups: Group[];
  scale: "log" | "linear";
  unit: string;
  targetLine?: { value: number; label: string };
}): { svg: string; height: number } {
  const barHeight = 14;
  const gap = 10;
  const left = 190;
  const right = 90;
  const plotWidth = options.width - left - right;
  const values = options.groups
    .flatMap((g) => g.bars.map((b) => b.value))
    .filter((v): v is number => v !== undefined && v > 0);
  const maxValue = Math.max(...values, options.targetLine?.value ?? 0, 1);
  const minValue =
    options.scale === "log" ? Math.max(1, 10 ** Math.floor(Math.log10(Math.min(...values, maxValue)))) : 0;
  const linearStep = niceStep((maxValue * 1.05) / 5);
  const maxScale =
    options.scale === "log"
      ? 10 ** Math.ceil(Math.log10(maxValue))
      : Math.ceil((maxValue * 1.05) / linearStep) * linearStep;
  const x = (value: number) =>
    options.scale === "log"
      ? left +
        (plotWidth * (Math.log10(Math.max(value, minValue)) - Math.log10(minValue))) /
          (Math.log10(maxScale) - Math.log10(minValue))
      : left + (plotWidth * value) / maxScale;

  const parts: string[] = [];
  let y = options.top + 44;
  parts.push(
    `<text x="${left}" y="${options.top + 16}" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  );
  const plotTop = y;
  for (const group of options.groups) {
    const groupHeight = group.bars.length * barHeight;
    parts.push(
      `<text x="${left - 8}" y="${y + groupHeight / 2 + 4}" font-size="12" text-anchor="end">${escapeXml(group.title)}</text>`,
    );
    for (const bar of group.bars) {
      if (bar.value !== undefined && bar.value > 0) {
        const width = Math.max(1, x(bar.value) - left);
        parts.push(
          `<rect x="${left}" y="${y + 1}" width="${width.toFixed(1)}" height="${barHeight - 2}" fill="${bar.colour}"/>`,
        );
        const text = bar.value >= 100 ? bar.value.toFixed(0) : bar.value.toFixed(1);
        parts.push(`<text x="${(left + width + 4).toFixed(1)}" y="${y + barHeight - 3}" font-size="10">${text}</text>`);
      }
      y += barHeight;
    }
    y += gap;
  }
  const plotBottom = y - gap + 4;
  // Axis ticks.
  const ticks =
    options.scale === "log"
      ? Array.from(
          { length: Math.round(Math.log10(maxScale) - Math.log10(minValue)) + 1 },
          (_v, i) => minValue * 10 ** i,
        )
      : Array.from({ length: Math.round(maxScale / linearStep) + 1 }, (_v, i) => linearStep * i);
  for (const tick of ticks) {
    const tx = x(tick);
    parts.push(
      `<line x1="${tx.toFixed(1)}" y1="${plotTop - 4}" x2="${tx.toFixed(1)}" y2="${plotBottom}" stroke="#ddd"/>`,
    );
    parts.push(
      `<text x="${tx.toFixed(1)}" y="${plotBottom + 14}" font-size="10" text-anchor="middle">${tick >= 1000 ? `${tick / 1000}k` : tick.toFixed(0)}</text>`,
    );
  }
  parts.push(
    `<text x="${left + plotWidth / 2}" y="${plotBottom + 30}" font-size="11" text-anchor="middle">${escapeXml(options.unit)}</text>`,
  );
  if (options.targetLine) {
    const tx = x(options.targetLine.value);
    parts.push(
      `<line x1="${tx.toFixed(1)}" y1="${plotTop - 8}" x2="${tx.toFixed(1)}" y2="${plotBottom}" stroke="#d62728" stroke-dasharray="4 3"/>`,
    );
    parts.push(
      `<text x="${(tx + 4).toFixed(1)}" y="${plotTop - 10}" font-size="11" fill="#d62728">${escapeXml(options.targetLine.label)}</text>`,
    );
  }
  return { svg: parts.join("\n"), height: plotBottom + 40 - options.top };
}

export function chartSvg(input: {
  title: string;
  subtitle: string;
  summaries: ScenarioSummary[];
  baseline: BaselineSummaries;
}): string {
  const width = 900;
  const throughput = panel({
    top: 60,
    width,
    title: "Throughput (requests/s, log scale; higher is better)",
    groups: groups(input.summaries, input.baseline, (c) => c.requestsPerSecond, ["a", "b", "c", "d"]),
    scale: "log",
    unit: "requests per second (median over rounds)",
  });
  const latency = panel({
    top: 60 + throughput.height + 10,
    width,
    title: "p99 latency (ms; lower is better)",
    groups: groups(input.summaries, input.baseline, (c) => c.p99Ms, ["a", "b", "c", "d"]),
    scale: "linear",
    unit: "milliseconds (median over rounds of each round's p99)",
    targetLine: { value: TARGETS.p99Ms, label: `target for reads: ${TARGETS.p99Ms} ms` },
  });
  const legendY = 60 + throughput.height + 10 + latency.height + 10;
  const legend = (Object.keys(VARIANTS) as VariantId[])
    .map((v, i) => {
      const y = legendY + i * 18;
      return `<rect x="20" y="${y}" width="12" height="12" fill="${COLOURS[v]}"/><text x="38" y="${y + 10}" font-size="11">${escapeXml(VARIANTS[v].label)}</text>`;
    })
    .join("\n");
  const baselineY = legendY + 4 * 18;
  const height = baselineY + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="26" font-size="18" font-weight="bold">${escapeXml(input.title)}</text>`,
    `<text x="20" y="46" font-size="12" fill="#444">${escapeXml(input.subtitle)}</text>`,
    throughput.svg,
    latency.svg,
    legend,
    `<rect x="20" y="${baselineY}" width="12" height="12" fill="${BASELINE_COLOURS.a}"/>` +
      `<rect x="34" y="${baselineY}" width="12" height="12" fill="${BASELINE_COLOURS.d}"/>` +
      `<text x="52" y="${baselineY + 10}" font-size="11">a) and d) on the 10-organisation data set (small-organisation target)</text>`,
    "</svg>",
  ].join("\n");
}

/** PNG bytes of an SVG (system fonts; without any, the bars still render but not the text). */
export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
    fitTo: { mode: "zoom", value: 1.5 },
  });
  return resvg.render().asPng();
}
