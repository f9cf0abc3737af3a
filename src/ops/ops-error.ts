// The one error type the backup and restore tools raise: a stable code for scripts and tests,
// and a message written for the operator (the CLIs print it without a stack trace).
export type OpsErrorCode =
  | "TOOL_MISSING"
  | "VERSION_MISMATCH"
  | "NOT_A_DUMP"
  | "DUMP_DAMAGED"
  | "DATA_ONLY_DUMP"
  | "DATABASE_IN_USE"
  | "DATABASE_UNAVAILABLE"
  | "BACKUP_FAILED"
  | "RESTORE_FAILED"
  | "VERIFY_FAILED";

export class OpsError extends Error {
  override name = "OpsError";
  readonly code: OpsErrorCode;

  constructor(code: OpsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
