// A page size for every paginating field called without one: a connection or list asked for
// without `first`/`last` (or with a `first` variable left null) returns at most
// LIMITS_DEFAULT_PAGE_SIZE rows. The cost estimate counts such a field at exactly that size, so
// the estimate is a bound and not a guess: without it, `companies(first: 1) → positions →
// company → positions(first: 50)` on a company with 100,000 positions returns 5 million objects.
// Generic: every field PostGraphile gives `first` (connections and simple collections, including
// ones added by other plugins through the same scopes). A simple collection (a list: the
// set-returning functions' grouped counts and days) has no pageInfo to say that rows were left
// out, so it gets the maximum page size instead: its own SQL bounds it well below that (367 days,
// one row per status). The cost estimate still counts a list at the default page size: a
// set-returning function exposed as a list must bound its own rows.
import { constant, lambda, type Step } from "postgraphile/grafast";
import type {} from "postgraphile/graphile-build";

interface Pageable {
  setFirst(first: Step): unknown;
}

const isPageable = (step: unknown): step is Pageable =>
  step != null && typeof (step as Pageable).setFirst === "function";

/** True when the argument was not given at all (grafast plans it as `constant(undefined)`). */
function absent(step: Step): boolean {
  return (step as { data?: unknown }).data === undefined && step.constructor.name === "ConstantStep";
}

export function createDefaultPageSizePlugin(pageSize: number, listPageSize: number): GraphileConfig.Plugin {
  return {
    name: "ProspectFlowDefaultPageSizePlugin",
    version: "1.0.0",
    after: ["PgFirstLastBeforeAfterArgsPlugin"],
    schema: {
      hooks: {
        GraphQLObjectType_fields_field(field, _build, context) {
          const { isPgFieldConnection, isPgFieldSimpleCollection, pgFieldResource } = context.scope;
          if (!(isPgFieldConnection || isPgFieldSimpleCollection) || pgFieldResource?.isUnique) return field;
          const plan = field.plan;
          if (typeof plan !== "function") return field;
          return {
            ...field,
            plan(...args: Parameters<typeof plan>) {
              const $result = plan.apply(this, args);
              const fieldArgs = args[1];
              const has = (name: string) => {
                try {
                  return !absent(fieldArgs.getRaw(name));
                } catch {
                  return false; // the field has no such argument
                }
              };
              if (isPageable($result) && !has("first") && !has("last")) {
                $result.setFirst(constant(isPgFieldSimpleCollection ? listPageSize : pageSize));
              }
              return $result;
            },
          } as typeof field;
        },
        GraphQLObjectType_fields_field_args_arg(arg, _build, context) {
          const { isPgFieldConnection, isPgFieldSimpleCollection, argName } = context.scope;
          if (!(isPgFieldConnection || isPgFieldSimpleCollection) || argName !== "first") return arg;
          // `first: $n` with $n unset or null would otherwise mean "all rows".
          return {
            ...arg,
            applyPlan(_parent: Step, $target: Pageable, input: { getRaw(): Step }) {
              const fallback = isPgFieldSimpleCollection ? listPageSize : pageSize;
              $target.setFirst(lambda(input.getRaw(), (value) => (value == null ? fallback : value), true));
            },
          } as typeof arg;
        },
      },
    },
  };
}
