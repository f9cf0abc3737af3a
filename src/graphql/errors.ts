// Error masking: the errors a client can act on pass through with a clear message and a stable
// `extensions.code`; everything else is replaced by grafserv's masked message (logged with a hash).
// No SQL text, constraint detail or stack trace reaches a client; the masked errors are logged
// through pino (one JSON line with the hash and id the client sees), not grafserv's console text.
import { createHash, randomInt } from "node:crypto";
import { isSafeError } from "postgraphile/grafast";
import { GraphQLError } from "postgraphile/graphql";
import { requestLoggerOr, type Logger } from "../logger.ts";
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
  TASK_LOCK_LOST: "TASK_LOCK_LOST",
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  /** Too many attempts (throttling): HTTP 429 with Retry-After. */
  RATE_LIMITED: "RATE_LIMITED",
  /** Too many password-hashing requests at once on this instance: HTTP 503 with Retry-After. */
  SERVICE_BUSY: "SERVICE_BUSY",
  /** HTTP-level refusals, before any GraphQL: wrong method, unacceptable Accept, media type, body. */
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  NOT_ACCEPTABLE: "NOT_ACCEPTABLE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  BAD_REQUEST_BODY: "BAD_REQUEST_BODY",
  REQUEST_TOO_LARGE: "REQUEST_TOO_LARGE",
  // Limits and trusted documents (src/limits/, src/documents/): refused before planning.
  DOCUMENT_NOT_TRUSTED: "DOCUMENT_NOT_TRUSTED",
  BODY_TOO_LARGE: "BODY_TOO_LARGE",
  OPERATION_LIMIT_EXCEEDED: "OPERATION_LIMIT_EXCEEDED",
  DEPTH_LIMIT_EXCEEDED: "DEPTH_LIMIT_EXCEEDED",
  ALIAS_LIMIT_EXCEEDED: "ALIAS_LIMIT_EXCEEDED",
  ROOT_FIELD_LIMIT_EXCEEDED: "ROOT_FIELD_LIMIT_EXCEEDED",
  COST_LIMIT_EXCEEDED: "COST_LIMIT_EXCEEDED",
  PLANNING_TIMEOUT: "PLANNING_TIMEOUT",
  INTROSPECTION_DISABLED: "INTROSPECTION_DISABLED",
  // Membership by consent (issue 11): invitation links, verified email, password reset links.
  INVITATION_INVALID: "INVITATION_INVALID",
  INVITATION_EXPIRED: "INVITATION_EXPIRED",
  EMAIL_NOT_VERIFIED: "EMAIL_NOT_VERIFIED",
  TOKEN_INVALID: "TOKEN_INVALID",
  TOKEN_EXPIRED: "TOKEN_EXPIRED",
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
  PT120: ErrorCode.TASK_LOCK_LOST,
  PT040: ErrorCode.INVITATION_INVALID,
  PT041: ErrorCode.INVITATION_EXPIRED,
  PT042: ErrorCode.EMAIL_NOT_VERIFIED,
  PT043: ErrorCode.TOKEN_INVALID,
  PT044: ErrorCode.TOKEN_EXPIRED,
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

/** The masking function grafserv calls for every error; what it hides is logged through `logger`. */
export function createMaskError(logger: Logger): (error: GraphQLError) => GraphQLError {
  return (error) => maskErrorWith(error, (hidden) => hideError(hidden, requestLoggerOr(logger)));
}

/** maskError without a logger (what it hides goes to a logger that drops it); for tests of the masking itself. */
export function maskError(error: GraphQLError): GraphQLError {
  return maskErrorWith(error, (hidden) => hideError(hidden, undefined));
}

function maskErrorWith(error: GraphQLError, hide: (error: GraphQLError) => GraphQLError): GraphQLError {
  // Errors about the request itself (a malformed UUID variable, a wrong argument) are safe: they
  // describe what the client sent, not the server. They pass through with a code.
  const original = error.originalError;
  if (original === undefined || original instanceof GraphQLError) {
    if (error.extensions.code !== undefined) return error;
    const code = /^Cannot return null for non-nullable field/.test(error.message)
      ? "INTERNAL_SERVER_ERROR"
      : ErrorCode.INVALID_INPUT;
    return withCode(error, error.message, code);
  }
  const described = describeError(error);
  if (described !== undefined) return withCode(error, described.message, described.code);
  // A well-formed cursor of another ordering (or another connection): the client sent it.
  if (/^Invalid '(after|before)' cursor/.test(original.message)) {
    return withCode(error, original.message, ErrorCode.INVALID_INPUT);
  }
  if (isSafeError(original)) {
    return new GraphQLError(original.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: original,
      extensions: original.extensions ?? null,
    });
  }
  return hide(error);
}

const ERROR_ID_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ2346789";

/**
 * Replaces an error the client cannot act on by "An error occurred (logged with hash …, id …)",
 * as grafserv's defaultMaskError does, and logs the original as one JSON line with both: the hash
 * groups similar errors, the id finds this one.
 */
function hideError(error: GraphQLError, logger: Logger | undefined): GraphQLError {
  const hash = createHash("sha1").update(String(error)).digest("base64url");
  let errorId = "";
  for (let i = 0; i < 10; i++) errorId += ERROR_ID_LETTERS[randomInt(ERROR_ID_LETTERS.length)];
  logger?.error(
    { hash, errorId, path: error.path?.join("."), err: error.originalError ?? error },
    "masked GraphQL error",
  );
  return new GraphQLError(`An error occurred (logged with hash: '${hash}', id: '${errorId}')`, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { errorId },
  });
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
