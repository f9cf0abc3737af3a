// What every operator command shares: argument parsing with --help, the database connection
// (embedded or configured), clear errors on stderr and a non-zero exit code on failure.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError, loadConfig, type Config } from "../config.ts";
import { connectDatabase, type Database } from "../db/bootstrap.ts";
import { createLogger, type Logger } from "../logger.ts";

/** A failure the operator caused and can fix: printed as is, exit code 1. */
export class CommandError extends Error {
  override name = "CommandError";
}

export interface CommandContext<Values> {
  values: Values;
  config: Config;
  logger: Logger;
  database: Database;
}

export function runCommand<Options extends NonNullable<ParseArgsConfig["options"]>>(spec: {
  usage: string;
  options: Options;
  /** Names of options that must be given. */
  required: Array<keyof Options & string>;
  run: (context: CommandContext<ReturnType<typeof parseArgs<{ options: Options }>>["values"]>) => Promise<void>;
}): void {
  const main = async (): Promise<number> => {
    let values: ReturnType<typeof parseArgs<{ options: Options }>>["values"];
    try {
      ({ values } = parseArgs({ options: { ...spec.options, help: { type: "boolean", short: "h" } } as Options }));
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n\n${spec.usage}\n`);
      return 2;
    }
    if ((values as { help?: boolean }).help) {
      process.stdout.write(`${spec.usage}\n`);
      return 0;
    }
    const missing = spec.required.filter((name) => (values as Record<string, unknown>)[name] === undefined);
    if (missing.length > 0) {
      process.stderr.write(`Missing ${missing.map((m) => `--${m}`).join(", ")}.\n\n${spec.usage}\n`);
      return 2;
    }
    const config = loadConfig(process.env);
    const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
    const database = await connectDatabase(config, logger);
    try {
      await spec.run({ values, config, logger, database });
      return 0;
    } finally {
      await database.stop();
    }
  };
  exitWith(main);
}

/** Runs a command's main function and exits with its code; failures are printed without a stack. */
export function exitWith(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      // Our own errors, and the database's PT… errors, are written for people: shown as they are.
      const ownError =
        error instanceof ConfigError ||
        error instanceof CommandError ||
        /^PT\d{3}$/.test(String((error as { code?: string }).code));
      const message = ownError ? (error as Error).message : `failed: ${(error as Error).message}`;
      process.stderr.write(`${message}\n`);
      process.exit(1);
    },
  );
}
