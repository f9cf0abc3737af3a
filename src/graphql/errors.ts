// Error masking: the errors a client can act on pass through with a clear message and a stable
// `extensions.code`; everything else is replaced by grafserv's masked message (logged with a hash).
// No SQL text, constraint detail or stack trace reaches a client.
import { GraphQLError } from "postgraphile/graphql";
import { defaultMaskError } from "postgraphile/grafserv";
import { NOT_FOUND_MESSAGE } from "./not-found-plugin.ts";

export const ErrorCode = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  TENANT_MISSING: "TENANT_MISSING",
  TENANT_INVALID: "TENANT_INVALID",
  NOT_A_MEMBER: "NOT_A_MEMBER",
  SESSION_REVOKED: "SESSION_REVOKED",
  ORGANISATION_SUSPENDED: "ORGANISATION_SUSPENDED",
  INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
  UNKNOWN_ORGANISATION: "UNKNOWN_ORGANISATION",
  ORGANISATION_REQUIRED: "ORGANISATION_REQUIRED",
  WEAK_PASSWORD: "WEAK_PASSWORD",
  CONFIRMATION_MISMATCH: "CONFIRMATION_MISMATCH",
  OWNER_REQUIRED: "OWNER_REQUIRED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  ALREADY_EXISTS: "ALREADY_EXISTS",
  REFERENCE_MISSING: "REFERENCE_MISSING",
  INVALID_INPUT: "INVALID_INPUT",
  INVALID_TRANSITION: "INVALID_TRANSITION",
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface DatabaseErrorFields {
  code?: unknown;
  message?: unknown;
  constraint?: unknown;
  column?: unknown;
  routine?: unknown;
}

interface SafeDescription {
  code: ErrorCode;
  message: string;
}

/** Our own SQLSTATEs (class PT) raised by the database's helpers and functions; their messages are written for clients. */
const TENANT_ERRORS: Record<string, ErrorCode> = {
  PT001: ErrorCode.TENANT_MISSING,
  PT002: ErrorCode.TENANT_INVALID,
  PT003: ErrorCode.NOT_A_MEMBER,
  PT004: ErrorCode.FORBIDDEN,
  PT005: ErrorCode.SESSION_REVOKED,
  PT006: ErrorCode.ORGANISATION_SUSPENDED,
  PT010: ErrorCode.INVALID_TRANSITION,
  PT011: ErrorCode.NOT_FOUND,
  PT020: ErrorCode.WEAK_PASSWORD,
  PT021: ErrorCode.ALREADY_EXISTS,
  PT022: ErrorCode.CONFIRMATION_MISMATCH,
  PT023: ErrorCode.OWNER_REQUIRED,
  PT030: ErrorCode.INVALID_CREDENTIALS,
  PT031: ErrorCode.UNKNOWN_ORGANISATION,
  PT032: ErrorCode.ORGANISATION_REQUIRED,
  // Dashboard (PT130–PT139).
  PT130: ErrorCode.INVALID_INPUT,
};

const INVALID_INPUT_STATES = new Set([
  "22P02", // invalid_text_representation (a bad UUID, number, boolean…)
  "22001", // string_data_right_truncation
  "22003", // numeric_value_out_of_range
  "22007", // invalid_datetime_format
  "22008", // datetime_field_overflow
  "22023", // invalid_parameter_value
  "23502", // not_null_violation
  "23514", // check_violation
]);

const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "57P01",
  "57P03",
  "53300",
  // Class 08, connection exceptions; PgBouncer reports query_wait_timeout, query_timeout and
  // server_login_retry as 08P01.
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "08P01",
]);

function describeDatabaseError(error: DatabaseErrorFields): SafeDescription | undefined {
  const state = typeof error.code === "string" ? error.code : undefined;
  const message = typeof error.message === "string" ? error.message : "";
  const constraint = typeof error.constraint === "string" ? error.constraint : undefined;
  const column = typeof error.column === "string" ? error.column : undefined;
  if (state === undefined) {
    if (/timeout exceeded when trying to connect|Connection terminated/i.test(message)) {
      return { code: ErrorCode.SERVICE_UNAVAILABLE, message: "The database is unavailable; try again shortly." };
    }
    return undefined;
  }
  const tenantCode = TENANT_ERRORS[state];
  if (tenantCode !== undefined) return { code: tenantCode, message };
  if (CONNECTION_ERRORS.has(state)) {
    return { code: ErrorCode.SERVICE_UNAVAILABLE, message: "The database is unavailable; try again shortly." };
  }
  if (state === "42501") {
    return { code: ErrorCode.FORBIDDEN, message: "Forbidden: sign in, or use a role that allows this operation." };
  }
  if (state === "23505") {
    return {
      code: ErrorCode.ALREADY_EXISTS,
      message: `Already exists: another row has the same unique value${constraint ? ` (${constraint})` : ""}.`,
    };
  }
  if (state === "23503" && constraint?.endsWith("_valid")) {
    // A value outside an enumeration's lookup table (migrations/current/500): bad input, not a missing row.
    return { code: ErrorCode.INVALID_INPUT, message: `Invalid input (violates ${constraint}).` };
  }
  if (state === "23503") {
    return {
      code: ErrorCode.REFERENCE_MISSING,
      message: `Referenced row missing: the row this refers to does not exist in your organisation${
        constraint ? ` (${constraint})` : ""
      }.`,
    };
  }
  if (state === "57014") {
    return { code: ErrorCode.SERVICE_UNAVAILABLE, message: "The query took too long and was cancelled." };
  }
  if (INVALID_INPUT_STATES.has(state)) {
    const detail =
      state === "23514" && constraint
        ? ` (violates ${constraint})`
        : state === "23502" && column
          ? ` (${column} is required)`
          : state === "22023"
            ? `: ${message.replace(/^Invalid input:\s*/, "")}`
            : state === "22P02" || state === "22007" || state === "22008" || state === "22003"
              ? `: ${message.replace(/"[^"]*"/g, "value")}`
              : state === "22001"
                ? ": a value is too long"
                : "";
    return { code: ErrorCode.INVALID_INPUT, message: `Invalid input${detail}.` };
  }
  return undefined;
}

/** PostGraphile's own error when a delete matched no row (updates are handled by not-found-plugin). */
const NOTHING_DELETED = /^No values were (updated|deleted) in collection/;

/** Walks the cause chain to find what actually failed (grafast wraps step errors). */
function* causes(error: unknown): Generator<DatabaseErrorFields> {
  let current: unknown = error;
  for (let depth = 0; current != null && typeof current === "object" && depth < 5; depth++) {
    yield current as DatabaseErrorFields;
    const next =
      (current as { originalError?: unknown; cause?: unknown }).originalError ?? (current as { cause?: unknown }).cause;
    if (next === current) break;
    current = next;
  }
}

export function describeError(error: GraphQLError): SafeDescription | undefined {
  for (const cause of causes(error.originalError)) {
    const described = describeDatabaseError(cause);
    if (described) return described;
    if (typeof cause.message === "string" && NOTHING_DELETED.test(cause.message)) {
      return { code: ErrorCode.NOT_FOUND, message: NOT_FOUND_MESSAGE };
    }
  }
  return undefined;
}

export function maskError(error: GraphQLError): GraphQLError {
  // Errors about the request itself (a malformed UUID variable, a wrong argument) are safe: they
  // describe what the client sent, not the server. They pass through with a code.
  const original = error.originalError;
  if (original === undefined || original === null || original instanceof GraphQLError) {
    if (error.extensions?.code !== undefined) return error;
    const code = /^Cannot return null for non-nullable field/.test(error.message)
      ? "INTERNAL_SERVER_ERROR"
      : ErrorCode.INVALID_INPUT;
    return withCode(error, error.message, code);
  }
  const described = describeError(error);
  if (described === undefined) return defaultMaskError(error);
  return withCode(error, described.message, described.code);
}

function withCode(error: GraphQLError, message: string, code: string): GraphQLError {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { code },
  });
}
