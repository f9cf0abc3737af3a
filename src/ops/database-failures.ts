// Turns a failure to reach or use PostgreSQL into a sentence an operator can act on: which
// database, what went wrong, what to check. Used at start-up, by /readyz and by the ops CLIs.
import { redact } from "../db/connection-urls.ts";

/** The database could not be reached or used; `message` is written for an operator, never a stack trace. */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
  readonly code = "SERVICE_UNAVAILABLE";
}

interface ErrorFields {
  code?: unknown;
  message?: unknown;
}

/** One sentence about what failed; the caller adds which URL and which step. */
export function describeDatabaseFailure(error: unknown): string {
  const fields = (error ?? {}) as ErrorFields;
  const code = typeof fields.code === "string" ? fields.code : undefined;
  const message = typeof fields.message === "string" && fields.message !== "" ? fields.message : String(error);
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused (ECONNREFUSED): is PostgreSQL running and listening on that host and port?";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `unknown host (${code}): check the host name in the URL`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `the host does not answer (${code}): check the host, port and firewall`;
    case "28P01":
      return `${message} (28P01): check the user name and password in the URL`;
    case "28000":
      return `${message} (28000): the server refuses this role or client address (pg_hba.conf)`;
    case "3D000":
      return `${message} (3D000): create the database, or set ROOT_DATABASE_URL so start-up creates it`;
    case "57P03":
      return `${message} (57P03): the server is starting up or shutting down; try again shortly`;
    case "53300":
      return `${message} (53300): too many connections; lower DATABASE_POOL_MAX or raise max_connections`;
    default:
      return code === undefined ? message : `${message} (${code})`;
  }
}

/** "while <step> at <redacted url>: <what failed>" as an error whose message needs no stack trace. */
export function databaseStepFailed(step: string, url: string, error: unknown): DatabaseUnavailableError {
  return new DatabaseUnavailableError(`Could not ${step} at ${safeRedact(url)}: ${describeDatabaseFailure(error)}`, {
    cause: error,
  });
}

function safeRedact(url: string): string {
  try {
    return redact(url);
  } catch {
    return "(unparseable URL)";
  }
}
