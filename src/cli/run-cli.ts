// What every operator command shares: argument parsing with --help, the database connection
// (embedded or configured), clear errors on stderr and a non-zero exit code on failure.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError, loadConfig, type Config } from "../config.ts";
import { connectDatabase, type Database } from "../db/bootstrap.ts";
import { createLogger, type Logger } from "../logger.ts";
import { DatabaseUnavailableError } from "../ops/database-failures.ts";
import { OpsError } from "../ops/ops-error.ts";

/** A command line that cannot be run: printed with the usage, exit code 2; an empty message is --help (exit 0). */
export class UsageError extends Error {
  override name = "UsageError";
}

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

/**
 * Runs a backup or restore command's main function and exits with its code: a UsageError prints
 * the usage (exit 2, or 0 for --help); any other failure prints one line, `<action> failed: …`
 * (exit 1), with the message as is for configuration, operations and database-availability errors.
 */
export function exitAsOpsCommand(main: () => Promise<number>, usage: string, action: string): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError) {
        if (error.message === "") {
          process.stdout.write(`${usage}\n`);
          process.exit(0);
        }
        process.stderr.write(`${error.message}\n\n${usage}\n`);
        process.exit(2);
      }
      const known =
        error instanceof ConfigError || error instanceof OpsError || error instanceof DatabaseUnavailableError;
      process.stderr.write(`${action} failed: ${known ? (error as Error).message : String(error)}\n`);
      process.exit(1);
    },
  );
}
