// The enumerations of the lookup tables in `reference` (migrations/current/500): their GraphQL values
// are the database values themselves (`new`, `catch_all`), so JSON results and variables read exactly
// as the rows do; and a wrong value is refused with a message naming every allowed value, where
// graphql-js names only a "did you mean" guess.
import { GraphQLEnumType, print, type ValueNode } from "postgraphile/graphql";

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

function isEnumTableCodec(codec: unknown): boolean {
  return (codec as { extensions?: { isEnumTableEnum?: boolean } } | undefined)?.extensions?.isEnumTableEnum === true;
}

/** Makes parseLiteral/parseValue name the allowed values when they refuse one. */
function nameAllowedValues(type: GraphQLEnumType): void {
  const allowed = type.getValues().map((v) => v.name);
  const refusal = (got: string) =>
    // A plain Error: graphql-js adds the location and "Expected value of type …" around it.
    new Error(`${type.name} is one of ${allowed.join(", ")}; got ${got}.`);
  const parseLiteral = type.parseLiteral.bind(type);
  const parseValue = type.parseValue.bind(type);
  type.parseLiteral = (node: ValueNode, variables?: Record<string, unknown> | null) => {
    let parsed: unknown;
    try {
      parsed = parseLiteral(node, variables);
    } catch {
      throw refusal(print(node));
    }
    if (parsed === undefined && node.kind !== "Variable") throw refusal(print(node));
    return parsed;
  };
  type.parseValue = (value: unknown) => {
    try {
      return parseValue(value);
    } catch {
      // JSON.stringify(undefined) is undefined, whatever its declared type says.
      throw refusal((JSON.stringify(value) as string | undefined) ?? String(value));
    }
  };
}

export const EnumValuesPlugin: GraphileConfig.Plugin = {
  name: "ProspectFlowEnumValuesPlugin",
  version: "1.0.0",
  description: "Lookup-table enums keep their database values and name the allowed values on refusal",
  inflection: {
    replace: {
      enumValue(previous, _options, value, codec) {
        if (isEnumTableCodec(codec) && GRAPHQL_NAME.test(value) && !["true", "false", "null"].includes(value)) {
          return value;
        }
        return previous!(value, codec);
      },
    },
  },
  schema: {
    hooks: {
      finalize(schema, build) {
        const names = new Set<string>();
        for (const codec of Object.values(build.input.pgRegistry.pgCodecs)) {
          if (!isEnumTableCodec(codec)) continue;
          const name = build.getGraphQLTypeNameByPgCodec(codec, "output");
          if (name) names.add(name);
        }
        for (const name of names) {
          const type = schema.getType(name);
          if (type instanceof GraphQLEnumType) nameAllowedValues(type);
        }
        return schema;
      },
    },
  },
};
