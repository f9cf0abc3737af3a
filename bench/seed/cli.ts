// `npm run bench:seed -- [--preset quick|full|scale] [--reseed]`: creates and seeds a bench
// database (prospectflow_bench_<preset>), or reports that an identical one is already there.
import { parseArgs } from "node:util";
import { connectBenchCluster, ensureBenchDatabase } from "../bench-database.ts";
import { DEFAULT_PRESET, PRESET_NAMES, PRESETS, parsePreset } from "../presets.ts";

const usage = `Usage: npm run bench:seed -- [--preset <name>] [--reseed]

Creates the database prospectflow_bench_<preset> on the project's PostgreSQL (the embedded one
unless database variables are set), migrates it and fills it with generated data, in SQL.
An existing database seeded from the same preset and seed.sql is kept; --reseed rebuilds it.

Presets (default ${DEFAULT_PRESET}, or BENCH_PRESET):
${PRESET_NAMES.map((name) => `  ${name.padEnd(9)} ${PRESETS[name].description}`).join("\n")}`;

async function main(): Promise<number> {
  let values: { preset?: string; reseed?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { preset: { type: "string" }, reseed: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const preset = parsePreset(values.preset ?? process.env.BENCH_PRESET, DEFAULT_PRESET);
  const cluster = await connectBenchCluster();
  try {
    const { seed } = await ensureBenchDatabase(cluster, preset, {
      reseed: values.reseed ?? false,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    const total = Object.values(seed.rows).reduce((a, b) => a + b, 0);
    process.stdout.write(
      `${preset.name}: ${total.toLocaleString("en-GB")} rows, ${seed.pixelTokens.toLocaleString("en-GB")} pixel tokens of the last 7 days\n`,
    );
    return 0;
  } finally {
    await cluster.database.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:seed failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
