// The process's logger (pino): JSON lines in production, the same lines everywhere else.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "prospectflow-api" } });
}
