// The shapes of the plans in two `bench:explain` outputs (bench/results/explain-<preset>.txt),
// compared plan by plan: does any plan change shape between data sets (10 → 1,000 → 10,000
// organisations)? A shape is the tree of plan nodes (node type, relation, index) with the
// InitPlans, SubPlans and one-time filters (where the RLS policies' tenant InitPlan shows), and
// without costs, row counts, timings, buffers or values. Pure functions: bench/compare-plans.ts
// reads the files.

export interface PlanShape {
  /** "<scenario> · statement <n> · <first execution|generic plan>" */
  key: string;
  /** The statement's own plan. */
  main: string[];
  /** The distinct plans of statements run inside functions (auto_explain), each as text. */
  nested: string[];
}

const NODE = /^(\s*)(->\s+)?([A-Z][A-Za-z ]+?)(\s+(using \S+\s+)?on \S+(\s+\S+)?)?\s+\(cost=/;
const INIT_OR_SUB = /^\s*(InitPlan|SubPlan|CTE) /;
const ONE_TIME_FILTER = /^\s*One-Time Filter: /;

/** One plan's lines reduced to its shape. */
export function shapeOf(planLines: string[]): string[] {
  const shape: string[] = [];
  for (const line of planLines) {
    if (NODE.test(line)) {
      shape.push(line.replace(/\s+\(cost=.*$/, "").trimEnd());
    } else if (INIT_OR_SUB.test(line) || ONE_TIME_FILTER.test(line)) {
      // Their numbers follow the order the planner made them in: not part of the shape.
      shape.push(line.replace(/\d+/g, "#").trimEnd());
    }
  }
  return shape;
}

/** The plans of an explain output, keyed by scenario, statement and kind of plan. */
export function parseExplainOutput(text: string): Map<string, PlanShape> {
  const plans = new Map<string, PlanShape>();
  let scenario = "?";
  let statement = "?";
  let current: { key: string; main: string[]; nested: string[][] } | undefined;
  let inNested = false;
  const flush = () => {
    if (!current) return;
    const nested = [...new Set(current.nested.map((lines) => shapeOf(lines).join("\n")))].sort();
    plans.set(current.key, { key: current.key, main: shapeOf(current.main), nested });
    current = undefined;
  };
  for (const line of text.split("\n")) {
    const scenarioMatch = /^## ([\w-]+):/.exec(line);
    const statementMatch = /^### statement (\d+) of \d+/.exec(line);
    const labelMatch = /^-- (first execution|generic plan)/.exec(line);
    if (scenarioMatch) {
      flush();
      scenario = scenarioMatch[1]!;
    } else if (statementMatch) {
      flush();
      statement = statementMatch[1]!;
    } else if (labelMatch) {
      flush();
      current = { key: `${scenario} · statement ${statement} · ${labelMatch[1]}`, main: [], nested: [] };
      inNested = false;
    } else if (current && /^-- inside a function, \d+× this plan:/.test(line)) {
      current.nested.push([]);
      inNested = true;
    } else if (current && (/^(OK|FAILED): /.test(line) || /^={10,}/.test(line))) {
      flush();
    } else if (current) {
      if (inNested) current.nested[current.nested.length - 1]!.push(line);
      else current.main.push(line);
    }
  }
  flush();
  return plans;
}

export interface PlanDifference {
  key: string;
  /** Why: missing on one side, or the first differing shape lines. */
  detail: string;
}

export interface PlanComparison {
  compared: number;
  same: number;
  differences: PlanDifference[];
}

export function comparePlans(before: Map<string, PlanShape>, after: Map<string, PlanShape>): PlanComparison {
  const differences: PlanDifference[] = [];
  let compared = 0;
  for (const key of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const x = before.get(key);
    const y = after.get(key);
    if (!x || !y) {
      differences.push({ key, detail: `only in the ${x ? "first" : "second"} output` });
      continue;
    }
    compared += 1;
    const main = firstDifference(x.main, y.main);
    if (main) differences.push({ key, detail: `the statement's plan: ${main}` });
    const onlyBefore = x.nested.filter((n) => !y.nested.includes(n));
    const onlyAfter = y.nested.filter((n) => !x.nested.includes(n));
    if (onlyBefore.length > 0 || onlyAfter.length > 0) {
      differences.push({
        key,
        detail:
          `plans inside functions: ${onlyBefore.length} only in the first, ${onlyAfter.length} only in the second` +
          (onlyAfter[0] ? `; e.g. second:\n${indent(onlyAfter[0])}` : "") +
          (onlyBefore[0] ? `\n  first:\n${indent(onlyBefore[0])}` : ""),
      });
    }
  }
  const differing = new Set(differences.filter((d) => before.has(d.key) && after.has(d.key)).map((d) => d.key));
  return { compared, same: compared - differing.size, differences };
}

function firstDifference(x: string[], y: string[]): string | undefined {
  const length = Math.max(x.length, y.length);
  for (let i = 0; i < length; i++) {
    if (x[i] !== y[i])
      return `line ${i + 1}:\n  first:  ${x[i]?.trim() ?? "(end)"}\n  second: ${y[i]?.trim() ?? "(end)"}`;
  }
  return undefined;
}

const indent = (text: string) =>
  text
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");
