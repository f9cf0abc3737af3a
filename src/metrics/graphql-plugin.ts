// A grafserv plugin that counts every GraphQL operation by name and outcome, times it, and counts
// each error code of its response as a refusal: the limits' and throttles' codes are counted the
// day they are added, without their code calling the metrics.
import type {} from "postgraphile/grafserv";
import type { Metrics } from "./metrics.ts";

interface ErrorBody {
  errors?: Array<{ extensions?: { code?: unknown } }>;
}

const ERRORS_KEY = Buffer.from('"errors":');

/**
 * Refusals of the document itself, before it runs: its name is the client's choice (any string,
 * in production any unregistered one too), so it is not made a label: those count as "refused".
 */
const DOCUMENT_REFUSALS = new Set([
  "DOCUMENT_NOT_TRUSTED",
  "GRAPHQL_VALIDATION_FAILED",
  "DEPTH_LIMIT_EXCEEDED",
  "ALIAS_LIMIT_EXCEEDED",
  "ROOT_FIELD_LIMIT_EXCEEDED",
  "COST_LIMIT_EXCEEDED",
  "OPERATION_LIMIT_EXCEEDED",
  "BODY_TOO_LARGE",
  "INTROSPECTION_DISABLED",
  "PLANNING_TIMEOUT",
  "BAD_REQUEST_BODY",
]);

function errorCodes(body: ErrorBody | null | undefined): string[] {
  if (!Array.isArray(body?.errors)) return [];
  return body.errors.map((e) => (typeof e.extensions?.code === "string" ? e.extensions.code : "UNKNOWN"));
}

/** The name of a document's first operation, when the request names none (the usual case). */
function firstOperationName(query: unknown): string | undefined {
  if (typeof query !== "string") return undefined;
  return /^(?:\s|,|#[^\n]*\n)*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(
    query.slice(0, 2000),
  )?.[1];
}

export function createMetricsPlugin(metrics: Metrics): GraphileConfig.Plugin {
  // The operation name, read from the parsed body, kept for the request's response.
  const operationNames = new WeakMap<object, string>();
  return {
    name: "ProspectFlowMetricsPlugin",
    version: "1.0.0",
    // Outermost middleware: it must see the response after every other plugin gave its errors codes.
    before: ["RequestErrorCodesPlugin" as keyof GraphileConfig.Plugins],
    grafserv: {
      middleware: {
        processGraphQLRequestBody(next, event) {
          const req = event.request?.requestContext.expressv4?.req;
          const name =
            typeof event.body.operationName === "string"
              ? event.body.operationName
              : firstOperationName(event.body.query);
          if (req !== undefined && name !== undefined) operationNames.set(req, name);
          return next();
        },
        async processRequest(next, event) {
          const started = process.hrtime.bigint();
          const result = await next();
          const graphqlPath = event.resolvedPreset.grafserv?.graphqlPath ?? "/graphql";
          if (result === null || event.requestDigest.path !== graphqlPath) return result;
          let codes: string[] = [];
          if (result.type === "json") {
            codes = errorCodes(result.json as ErrorBody);
          } else if (result.type === "buffer" && result.buffer.includes(ERRORS_KEY)) {
            try {
              codes = errorCodes(JSON.parse(result.buffer.toString("utf8")) as ErrorBody);
            } catch {
              codes = ["UNKNOWN"]; // not JSON: counted, never thrown at the client
            }
          } else if (result.type === "error") {
            const code = (result.error as { extensions?: { code?: unknown } }).extensions?.code;
            codes = [typeof code === "string" ? code : `HTTP_${result.statusCode}`];
          } else if (result.statusCode >= 400) {
            codes = [`HTTP_${result.statusCode}`];
          }
          const req = event.requestDigest.requestContext.expressv4?.req;
          const outcome = codes[0] ?? "ok";
          const name = DOCUMENT_REFUSALS.has(outcome)
            ? "refused"
            : req === undefined
              ? undefined
              : operationNames.get(req);
          metrics.graphqlOperation(name, outcome, Number(process.hrtime.bigint() - started) / 1e9);
          for (const code of codes) metrics.refusal(code);
          return result;
        },
      },
    },
  };
}
