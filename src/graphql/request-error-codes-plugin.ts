// Gives every error of a rejected request (GraphQL syntax or validation: an unknown field, a
// missing argument) a stable extensions.code. grafserv answers those before execution, so they
// never reach maskError; this middleware adds the code to the finished response. Such a response
// has no data: its JSON starts with {"errors": (executed results start with {"data":), a cheap
// test that keeps successful responses untouched. Refusals at the HTTP level (wrong method, Accept,
// media type, unreadable body) get codes of their own: grafserv marks its HTTP errors with
// `extensions.statusCode`, and answers 405/406 with that status.
import type {} from "postgraphile/grafserv";
import { ErrorCode } from "./errors.ts";

export const GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED";

const HTTP_ERROR_CODES: Record<number, string> = {
  400: ErrorCode.BAD_REQUEST_BODY,
  405: ErrorCode.METHOD_NOT_ALLOWED,
  406: ErrorCode.NOT_ACCEPTABLE,
  413: ErrorCode.REQUEST_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
};
const ERRORS_ONLY = Buffer.from('{"errors":');

interface ErrorBody {
  errors?: Array<{ extensions?: Record<string, unknown> }>;
}

function codeFor(error: { extensions?: Record<string, unknown> }, responseStatus: number): string {
  const httpStatus = error.extensions?.statusCode;
  if (typeof httpStatus === "number") return HTTP_ERROR_CODES[httpStatus] ?? ErrorCode.BAD_REQUEST_BODY;
  if (responseStatus === 405 || responseStatus === 406) return HTTP_ERROR_CODES[responseStatus]!;
  return GRAPHQL_VALIDATION_FAILED;
}

function withCodes(body: ErrorBody, responseStatus: number): ErrorBody {
  if (!Array.isArray(body.errors)) return body;
  return {
    ...body,
    errors: body.errors.map((error) => {
      if (error.extensions?.code !== undefined) return error;
      // grafserv's internal statusCode marker is replaced by the code (the HTTP status says it already).
      const { statusCode: _statusCode, ...extensions } = error.extensions ?? {};
      return { ...error, extensions: { ...extensions, code: codeFor(error, responseStatus) } };
    }),
  };
}

export const RequestErrorCodesPlugin: GraphileConfig.Plugin = {
  name: "RequestErrorCodesPlugin",
  version: "1.0.0",
  grafserv: {
    middleware: {
      async processRequest(next) {
        const result = await next();
        if (result === null || result.statusCode >= 500) return result;
        if (result.type === "json" && !("data" in (result.json as object))) {
          return { ...result, json: withCodes(result.json as ErrorBody, result.statusCode) as never };
        }
        if (result.type === "buffer" && result.buffer.subarray(0, ERRORS_ONLY.length).equals(ERRORS_ONLY)) {
          const buffer = Buffer.from(
            JSON.stringify(withCodes(JSON.parse(result.buffer.toString("utf8")) as ErrorBody, result.statusCode)),
          );
          return { ...result, buffer, headers: { ...result.headers, "content-length": String(buffer.length) } };
        }
        return result;
      },
    },
  },
};
