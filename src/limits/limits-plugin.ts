// The limits that hold with or without trusted documents, as one grafserv + grafast plugin:
// - before grafserv parses or validates (processGraphQLRequestBody): operations per document,
//   depth, aliases, root fields and all fields (fragments expanded), introspection for anonymous
//   callers;
// - before Grafast plans (execute): the cost estimate with the request's variables, page sizes,
//   cursors and empty patches;
// - around the request (processRequest): the body size.
// Validation rules (grafserv's `validationRules`) were not used for these: they see neither the
// caller (anonymous limits are tighter) nor the variables, their result is cached per text for
// every caller, and graphql-js runs all the specified rules before a custom one can stop it.
import type {} from "postgraphile/grafserv";
import { getOperationAST, Kind, parse, type DocumentNode, type FragmentDefinitionNode } from "postgraphile/graphql";
import { GraphQLError } from "postgraphile/graphql";
import type { LimitsConfig, OperationLimits } from "../config.ts";
import { ErrorCode } from "../graphql/errors.ts";
import type { Logger } from "../logger.ts";
import { measureDocument, type DocumentMeasures } from "./document-measures.ts";
import { operationCost } from "./operation-cost.ts";
import { logRefusal, refuse, type RefusalContext } from "./refusal.ts";

export const LimitCode = {
  BODY_TOO_LARGE: ErrorCode.BODY_TOO_LARGE,
  OPERATION_LIMIT_EXCEEDED: ErrorCode.OPERATION_LIMIT_EXCEEDED,
  DEPTH_LIMIT_EXCEEDED: ErrorCode.DEPTH_LIMIT_EXCEEDED,
  ALIAS_LIMIT_EXCEEDED: ErrorCode.ALIAS_LIMIT_EXCEEDED,
  ROOT_FIELD_LIMIT_EXCEEDED: ErrorCode.ROOT_FIELD_LIMIT_EXCEEDED,
  COST_LIMIT_EXCEEDED: ErrorCode.COST_LIMIT_EXCEEDED,
  INTROSPECTION_DISABLED: ErrorCode.INTROSPECTION_DISABLED,
  INVALID_INPUT: ErrorCode.INVALID_INPUT,
} as const;

/** Documents measured recently, by text: a repeated document costs one lookup. */
const MEASURED_CACHE_SIZE = 500;

interface RequestWithAuthentication {
  prospectflowAuthentication?: { kind: string };
}

function isAnonymous(requestContext: Partial<Grafast.RequestContext> | undefined): boolean {
  const req = requestContext?.expressv4?.req as RequestWithAuthentication | undefined;
  return req?.prospectflowAuthentication?.kind !== "member";
}

const who = (anonymous: boolean) => (anonymous ? "anonymous requests" : "signed-in requests");
const variable = (anonymous: boolean, name: string) => `LIMITS_${anonymous ? "ANONYMOUS_" : ""}${name}`;

export function createLimitsPlugin(limits: LimitsConfig, logger: Logger): GraphileConfig.Plugin {
  const measured = new Map<string, DocumentMeasures | null>();
  const measure = (query: string): DocumentMeasures | null => {
    let result = measured.get(query);
    if (result !== undefined) return result;
    let document: DocumentNode | undefined;
    try {
      document = parse(query, { noLocation: true });
    } catch {
      document = undefined; // a syntax error: grafserv reports it as GRAPHQL_VALIDATION_FAILED
    }
    result = document ? measureDocument(document) : null;
    if (measured.size >= MEASURED_CACHE_SIZE) measured.delete(measured.keys().next().value!);
    measured.set(query, result);
    return result;
  };
  const fragmentsByDocument = new WeakMap<DocumentNode, Map<string, FragmentDefinitionNode>>();
  const fragmentsOf = (document: DocumentNode) => {
    let fragments = fragmentsByDocument.get(document);
    if (!fragments) {
      fragments = new Map();
      for (const definition of document.definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      fragmentsByDocument.set(document, fragments);
    }
    return fragments;
  };

  return {
    name: "ProspectFlowLimitsPlugin",
    version: "1.0.0",
    after: ["PersistedPlugin", "ProspectFlowTrustedDocumentsPlugin"],
    grafserv: {
      middleware: {
        async processRequest(next, event) {
          const length = Number(event.requestDigest.headers["content-length"]);
          const refusal = {
            logger,
            query: undefined,
            operationName: undefined,
            anonymous: isAnonymous(event.requestDigest.requestContext),
          };
          const tooLarge = () => {
            logRefusal(refusal, LimitCode.BODY_TOO_LARGE, { limit: limits.maxBodyBytes });
            return {
              type: "json" as const,
              request: event.requestDigest,
              dynamicOptions: event.instance.dynamicOptions,
              statusCode: 413,
              headers: { "content-type": "application/json; charset=utf-8" },
              json: {
                errors: [
                  {
                    message:
                      `The request body is larger than ${limits.maxBodyBytes} bytes (LIMITS_MAX_BODY_BYTES); ` +
                      "send a smaller document or fewer variables.",
                    extensions: { code: LimitCode.BODY_TOO_LARGE },
                  },
                ],
              },
            };
          };
          if (Number.isFinite(length) && length > limits.maxBodyBytes) return tooLarge();
          const result = await next();
          // A body without Content-Length (chunked) is cut off by grafserv's own maxRequestLength.
          return result?.statusCode === 413 ? tooLarge() : result;
        },
        processGraphQLRequestBody(next, event) {
          const query = event.body.query;
          if (typeof query !== "string") return next();
          const anonymous = isAnonymous(event.request?.requestContext);
          const operationName = typeof event.body.operationName === "string" ? event.body.operationName : undefined;
          const context: RefusalContext = { logger, query, operationName, anonymous };
          const document = measure(query);
          if (document !== null) checkDocument(document, anonymous ? limits.anonymous : limits.member, context);
          if (anonymous && !limits.anonymousIntrospection && document?.measure(operationName)?.introspection) {
            throw refuse(
              context,
              LimitCode.INTROSPECTION_DISABLED,
              "Introspection is disabled for anonymous requests on this server (ALLOW_ANONYMOUS_INTROSPECTION); " +
                "sign in, or use the published schema.graphql.",
              {},
              403,
            );
          }
          return next();
        },
      },
    },
    grafast: {
      middleware: {
        execute(next, event) {
          const { args } = event;
          const anonymous = isAnonymous(args.requestContext);
          const operationName = args.operationName ?? undefined;
          const operation = getOperationAST(args.document, operationName);
          if (!operation) return next();
          const outcome = operationCost(
            args.schema,
            operation,
            fragmentsOf(args.document),
            args.variableValues as Record<string, unknown> | undefined,
            limits,
          );
          const context: RefusalContext = {
            logger,
            query: args.document.loc?.source.body,
            operationName: operation.name?.value ?? operationName,
            anonymous,
          };
          if (!outcome.ok) {
            logRefusal(context, LimitCode.INVALID_INPUT, { reason: "arguments" });
            return { errors: [new GraphQLError(outcome.message, { extensions: { code: LimitCode.INVALID_INPUT } })] };
          }
          const max = (anonymous ? limits.anonymous : limits.member).maxCost;
          if (outcome.cost > max) {
            logRefusal(context, LimitCode.COST_LIMIT_EXCEEDED, { limit: max, value: outcome.cost });
            return {
              errors: [
                new GraphQLError(
                  `The estimated cost of this operation is ${outcome.cost}, above the limit of ${max} for ` +
                    `${who(anonymous)} (${variable(anonymous, "MAX_COST")}). Page sizes multiply through nested ` +
                    `lists (a list without \`first\` counts as its default page size, ${limits.defaultPageSize}): ask for smaller pages.`,
                  { extensions: { code: LimitCode.COST_LIMIT_EXCEEDED, limit: max, cost: outcome.cost } },
                ),
              ],
            };
          }
          return next();
        },
      },
    },
  };
}

function checkDocument(document: DocumentMeasures, limits: OperationLimits, context: RefusalContext): void {
  const { anonymous } = context;
  const over = (code: string, what: string, value: number, limit: number, name: string) =>
    refuse(
      context,
      code,
      `This operation has ${value === Infinity ? "too many" : value} ${what}, above the limit of ${limit} for ` +
        `${who(anonymous)} (${variable(anonymous, name)}).`,
      { limit },
    );
  if (document.operations > limits.maxOperations) {
    throw over(
      LimitCode.OPERATION_LIMIT_EXCEEDED,
      "operations in one document",
      document.operations,
      limits.maxOperations,
      "MAX_OPERATIONS",
    );
  }
  const measures = document.measure(context.operationName);
  if (measures === undefined) return; // no such operation: grafserv says so
  if (measures.depth > limits.maxDepth) {
    throw over(
      LimitCode.DEPTH_LIMIT_EXCEEDED,
      "levels of nesting (fragments expanded)",
      measures.depth,
      limits.maxDepth,
      "MAX_DEPTH",
    );
  }
  if (measures.aliases > limits.maxAliases) {
    throw over(
      LimitCode.ALIAS_LIMIT_EXCEEDED,
      "aliased fields (fragments expanded)",
      measures.aliases,
      limits.maxAliases,
      "MAX_ALIASES",
    );
  }
  // Every field costs at least 1, so more fields than the cost limit is refused here already,
  // before graphql-js validates them (duplicated fields make its overlap check slow).
  if (measures.fields > limits.maxCost) {
    throw refuse(
      context,
      LimitCode.COST_LIMIT_EXCEEDED,
      `This operation has ${measures.fields === Infinity ? "too many" : measures.fields} fields (fragments expanded), ` +
        `above the cost limit of ${limits.maxCost} for ${who(anonymous)} (${variable(anonymous, "MAX_COST")}).`,
      { limit: limits.maxCost },
    );
  }
  if (measures.rootFields > limits.maxRootFields) {
    throw over(
      LimitCode.ROOT_FIELD_LIMIT_EXCEEDED,
      "root fields (fragments expanded)",
      measures.rootFields,
      limits.maxRootFields,
      "MAX_ROOT_FIELDS",
    );
  }
}
