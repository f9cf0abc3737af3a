// Gives every error of a rejected request (GraphQL syntax or validation: an unknown field, a
// missing argument) a stable extensions.code. grafserv answers those before execution, so they
// never reach maskError; this middleware adds the code to the finished response. Such a response
// has no data: its JSON starts with {"errors": (executed results start with {"data":), a cheap
// test that keeps successful responses untouched.
import type {} from "postgraphile/grafserv";

export const GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED";
const ERRORS_ONLY = Buffer.from('{"errors":');

interface ErrorBody {
  errors?: Array<{ extensions?: Record<string, unknown> }>;
}

function withCodes(body: ErrorBody): ErrorBody {
  if (!Array.isArray(body.errors)) return body;
  return {
    ...body,
    errors: body.errors.map((error) =>
      error.extensions?.code === undefined
        ? { ...error, extensions: { ...error.extensions, code: GRAPHQL_VALIDATION_FAILED } }
        : error,
    ),
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
          return { ...result, json: withCodes(result.json as ErrorBody) as never };
        }
        if (result.type === "buffer" && result.buffer.subarray(0, ERRORS_ONLY.length).equals(ERRORS_ONLY)) {
          const buffer = Buffer.from(
            JSON.stringify(withCodes(JSON.parse(result.buffer.toString("utf8")) as ErrorBody)),
          );
          return { ...result, buffer, headers: { ...result.headers, "content-length": String(buffer.length) } };
        }
        return result;
      },
    },
  },
};
