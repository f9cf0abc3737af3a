// The process's logger (pino): every line it writes is one JSON object, in every mode. Libraries
// that write to the console themselves (grafserv's rare unexpected-error reports, grafast's
// development warnings) are routed through it too, so stdout never holds anything but JSON.
import type { IncomingMessage } from "node:http";
import { AsyncLocalStorage } from "node:async_hooks";
import { format } from "node:util";
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "prospectflow-api" },
    // Whatever a caller attaches, these never reach a log line (defence in depth: nothing logs them on purpose).
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        "authorization",
        "password",
        "token",
        "variables",
        "*.password",
        "*.token",
        "*.variables",
      ],
      censor: "[redacted]",
    },
  });
}

/**
 * The logger of the request being served (the access log's child, carrying its reqId), for code that
 * logs without the request at hand: grafserv calls maskError with the error alone.
 */
const requestLoggers = new AsyncLocalStorage<() => Logger>();

/** Runs `work` with the request's logger at hand (made on first use: see src/http/access-log.ts). */
export function runWithRequestLogger<T>(logger: () => Logger, work: () => T): T {
  return requestLoggers.run(logger, work);
}

export function requestLoggerOr(fallback: Logger): Logger {
  return requestLoggers.getStore()?.() ?? fallback;
}

/**
 * Sends console.error/warn/log/info/debug/dir to the logger: graphile's packages call the console
 * directly (multi-line text beside the JSON lines otherwise). Entry points call this once.
 */
export function routeConsoleToLogger(logger: Logger): void {
  const console = globalThis.console;
  const child = logger.child({ component: "console" });
  console.error = (...args: unknown[]) => child.error(describe(args));
  console.warn = (...args: unknown[]) => child.warn(describe(args));
  console.log = (...args: unknown[]) => child.info(describe(args));
  console.info = (...args: unknown[]) => child.info(describe(args));
  console.debug = (...args: unknown[]) => child.debug(describe(args));
  console.dir = (item: unknown) => child.info(describe([item]));
}

/** One console call as a log object: the first error (with its stack) kept as `err`, the text as `msg`. */
function describe(args: unknown[]): { msg: string; err?: Error } {
  const error = args.find((arg): arg is Error => arg instanceof Error);
  const text = args.filter((arg) => arg !== error);
  return { msg: text.length === 0 ? String(error?.message ?? "") : format(...text), ...(error ? { err: error } : {}) };
}

/**
 * The request's own logger (with its reqId) when the access log has run for it, else `fallback`.
 * Requests that never passed through the access log have none.
 */
export function requestLogger(req: IncomingMessage, fallback: Logger): Logger {
  return (req as { log?: Logger }).log ?? fallback;
}
