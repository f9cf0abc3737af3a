// A refusal before planning: a SafeError grafserv answers as it is (message and extensions), with
// its stable code, and one JSON log line with the code, the document's hash and operation name
// (never its text or variables).
import { SafeError } from "postgraphile/grafast";
import type { Logger } from "../logger.ts";
import { documentHash } from "../documents/document-hash.ts";

export interface RefusalContext {
  logger: Logger;
  query: string | undefined;
  operationName: string | undefined;
  anonymous: boolean;
}

export function refuse(
  context: RefusalContext,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
  statusCode = 400,
): SafeError {
  logRefusal(context, code, details);
  return new SafeError(message, { code, statusCode, ...details });
}

export function logRefusal(context: RefusalContext, code: string, details: Record<string, unknown> = {}): void {
  context.logger.warn(
    {
      code,
      operationName: context.operationName ?? null,
      documentHash: typeof context.query === "string" ? documentHash(context.query) : null,
      anonymous: context.anonymous,
      ...details,
    },
    "GraphQL request refused",
  );
}
