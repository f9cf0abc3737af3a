// The cost estimate of one operation with its variables, taken after validation and before
// planning: every field resolved counts 1, and a field that paginates (any field with a `first`
// or `last` argument: connections and lists, whoever adds them) multiplies what it selects by
// its page size, or by the default page size it gets when called without one
// (default-page-size-plugin.ts). Pagination arguments are checked
// on the way (negative, above the maximum, `offset` with `last`, a malformed cursor) and so are
// empty patches. Fragments are costed once per request and reused (the estimate is linear).
import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  valueFromASTUntyped,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from "postgraphile/graphql";

export interface CostOptions {
  maxPageSize: number;
  defaultPageSize: number;
}

export type CostOutcome = { ok: true; cost: number } | { ok: false; message: string };

class InvalidArgument extends Error {}

export function operationCost(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variableValues: Record<string, unknown> | null | undefined,
  options: CostOptions,
): CostOutcome {
  const variables: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    variables[name] =
      variableValues != null && name in variableValues
        ? variableValues[name]
        : definition.defaultValue
          ? valueFromASTUntyped(definition.defaultValue)
          : undefined;
  }
  const value = (node: ValueNode | undefined): unknown =>
    node === undefined ? undefined : valueFromASTUntyped(node, variables);

  const fragmentCosts = new Map<string, number>();
  const costOfFragment = (name: string): number => {
    const known = fragmentCosts.get(name);
    if (known !== undefined) return known;
    fragmentCosts.set(name, 0); // cycles are refused by validation; never loop here
    const fragment = fragments.get(name);
    const type = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
    const cost = fragment && type ? costOfSet(fragment.selectionSet, type) : 0;
    fragmentCosts.set(name, cost);
    return cost;
  };

  const costOfSet = (set: SelectionSetNode, parent: GraphQLNamedType): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        total += costOfFragment(selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        total += type ? costOfSet(selection.selectionSet, type) : 0;
      } else {
        const field = fieldOf(schema, parent, selection.name.value);
        const argumentValues = new Map(selection.arguments?.map((argument) => [argument.name.value, argument.value]));
        let multiplier = 1;
        if (
          field !== undefined &&
          field.args.some((argument) => argument.name === "first" || argument.name === "last")
        ) {
          multiplier = pageSize(field.name, argumentValues, value, options, options.defaultPageSize);
        }
        if (field !== undefined && argumentValues.has("input"))
          checkPatch(field.name, value(argumentValues.get("input")));
        const child = selection.selectionSet && field ? costOfSet(selection.selectionSet, getNamedType(field.type)) : 0;
        total += 1 + multiplier * child;
      }
    }
    return total;
  };

  const root =
    operation.operation === "mutation"
      ? schema.getMutationType()
      : operation.operation === "subscription"
        ? schema.getSubscriptionType()
        : schema.getQueryType();
  if (!root) return { ok: true, cost: 0 };
  try {
    return { ok: true, cost: costOfSet(operation.selectionSet, root) };
  } catch (error) {
    if (error instanceof InvalidArgument) return { ok: false, message: error.message };
    throw error;
  }
}

function fieldOf(
  schema: GraphQLSchema,
  parent: GraphQLNamedType,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  if (name === "__schema") return schema.getQueryType() === parent ? introspectionField(schema, "__Schema") : undefined;
  if (name === "__type") return introspectionField(schema, "__Type");
  if (isObjectType(parent) || isInterfaceType(parent)) return parent.getFields()[name];
  return undefined;
}

function introspectionField(schema: GraphQLSchema, typeName: string): GraphQLField<unknown, unknown> | undefined {
  const type = schema.getType(typeName);
  return type ? ({ name: typeName, args: [], type } as unknown as GraphQLField<unknown, unknown>) : undefined;
}

/** The page size a paginating field asks for; refuses what PostGraphile would answer with a masked error. */
function pageSize(
  fieldName: string,
  argumentValues: Map<string, ValueNode>,
  value: (node: ValueNode | undefined) => unknown,
  options: CostOptions,
  fallback: number,
): number {
  const first = value(argumentValues.get("first"));
  const last = value(argumentValues.get("last"));
  const offset = value(argumentValues.get("offset"));
  for (const [name, given] of [
    ["first", first],
    ["last", last],
  ] as const) {
    if (typeof given !== "number") continue;
    if (given < 0) {
      throw new InvalidArgument(`Invalid input: \`${name}\` of \`${fieldName}\` must not be negative (got ${given}).`);
    }
    if (given > options.maxPageSize) {
      throw new InvalidArgument(
        `Invalid input: \`${name}\` of \`${fieldName}\` is ${given}, above the maximum page size of ` +
          `${options.maxPageSize} (LIMITS_MAX_PAGE_SIZE); page through with cursors instead.`,
      );
    }
  }
  if (typeof offset === "number" && offset < 0) {
    throw new InvalidArgument(`Invalid input: \`offset\` of \`${fieldName}\` must not be negative (got ${offset}).`);
  }
  if (typeof offset === "number" && typeof last === "number") {
    throw new InvalidArgument(
      `Invalid input: \`offset\` cannot be combined with \`last\` on \`${fieldName}\`; use \`before\` with a cursor.`,
    );
  }
  for (const name of ["after", "before"]) {
    const cursor = value(argumentValues.get(name));
    if (typeof cursor === "string" && !isWellFormedCursor(cursor)) {
      throw new InvalidArgument(
        `Invalid input: \`${name}\` of \`${fieldName}\` is not a cursor this API returned ` +
          "(use `cursor` or `pageInfo { endCursor }` from a previous page).",
      );
    }
  }
  const size = typeof first === "number" ? first : typeof last === "number" ? last : fallback;
  return Math.min(size, typeof first === "number" && typeof last === "number" ? last : size);
}

/** PostGraphile's cursors are base64 of a JSON array. */
function isWellFormedCursor(cursor: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(cursor) || cursor.length > 10_000) return false;
  try {
    return Array.isArray(JSON.parse(Buffer.from(cursor, "base64").toString("utf8")));
  } catch {
    return false; // not JSON: not one of ours
  }
}

function checkPatch(fieldName: string, input: unknown): void {
  if (input === null || typeof input !== "object") return;
  const patch = (input as Record<string, unknown>).patch;
  if (patch !== null && typeof patch === "object" && !Array.isArray(patch) && Object.keys(patch).length === 0) {
    throw new InvalidArgument(
      `Invalid input: the patch of \`${fieldName}\` is empty; name at least one field to change.`,
    );
  }
}
