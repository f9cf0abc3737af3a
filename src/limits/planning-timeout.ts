// Grafast's planning timeout (grafast.timeouts.planning) aborts planning with a SafeError that
// has no code; this gives it PLANNING_TIMEOUT, a message naming the limit, and a log line.
import { GraphQLError } from "postgraphile/graphql";
import { ErrorCode } from "../graphql/errors.ts";
import type { Logger } from "../logger.ts";

const PLANNING_ABORTED = /^Operation took too long to plan/;

export function withPlanningTimeoutCode(
  maskError: (error: GraphQLError) => GraphQLError,
  planningTimeoutMs: number,
  logger: Logger,
): (error: GraphQLError) => GraphQLError {
  return (error) => {
    if (!PLANNING_ABORTED.test(error.message)) return maskError(error);
    logger.warn({ code: ErrorCode.PLANNING_TIMEOUT, limit: planningTimeoutMs }, "GraphQL request refused");
    return new GraphQLError(
      `Planning this operation took longer than ${planningTimeoutMs} ms (LIMITS_PLANNING_TIMEOUT_MS) and was ` +
        "aborted: simplify the operation (fewer fields, fragments or aliases).",
      {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        extensions: { code: ErrorCode.PLANNING_TIMEOUT },
      },
    );
  };
}
