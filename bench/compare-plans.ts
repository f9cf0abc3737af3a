// `npm run bench:plans -- <preset> <preset>`: compares the plan shapes of two `bench:explain`
// outputs (bench/results/explain-<preset>.txt, or files given by path), e.g. full (1,000
// organisations) and scale (10,000): node types, relations, indexes, InitPlans and SubPlans,
// without costs, counts or values. Exit 1 when a plan changed shape.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { benchRoot } from "./bench-database.ts";
import { comparePlans, parseExplainOutput } from "./report/plan-shapes.ts";

const usage = `Usage: npm run bench:plans -- <first> <second>

Each argument is a preset name (bench/results/explain-<preset>.txt, written by
npm run bench:explain -- --preset <preset>) or the path of such an output. Prints which plans
changed shape between the two; exit 1 if any did.`;

function fileOf(argument: string): string {
  const byPreset = path.join(benchRoot, "results", `explain-${argument}.txt`);
  if (existsSync(byPreset)) return byPreset;
  if (existsSync(argument)) return argument;
  throw new Error(`No explain output for "${argument}": run npm run bench:explain -- --preset ${argument} first.`);
}

function main(argv: string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (argv.length !== 2) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const [first, second] = argv.map(fileOf) as [string, string];
  const result = comparePlans(
    parseExplainOutput(readFileSync(first, "utf8")),
    parseExplainOutput(readFileSync(second, "utf8")),
  );
  const name = (file: string) => path.relative(process.cwd(), file);
  process.stdout.write(`Plan shapes, ${name(first)} (first) against ${name(second)} (second):\n`);
  for (const difference of result.differences) process.stdout.write(`- ${difference.key}: ${difference.detail}\n`);
  process.stdout.write(
    `${result.same} of ${result.compared} plans have the same shape` +
      `${result.differences.length === 0 ? " (all of them)" : `; ${result.differences.length} difference(s) above`}.\n`,
  );
  return result.differences.length === 0 ? 0 : 1;
}

try {
  process.exit(main(process.argv.slice(2)));
} catch (error) {
  process.stderr.write(`bench:plans failed: ${(error as Error).message}\n`);
  process.exit(1);
}
