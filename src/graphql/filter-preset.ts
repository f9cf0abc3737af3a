// Filtering with postgraphile-plugin-connection-filter 4.0.1, restricted on purpose: only the
// operators an index serves (equality, in, ranges, null checks), no pattern matching (search does
// that, with trigram indexes), no filters on computed columns, set-returning functions or arrays,
// no and/or/not (a filter is a conjunction of index-served conditions), relation filters along
// foreign keys (every one has an index led by organisation_id). Which columns are filterable is
// PostGraphile's index behaviour: a column in no index gets neither a filter nor an orderBy.
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";

export const ALLOWED_FILTER_OPERATORS = [
  "isNull",
  "equalTo",
  "notEqualTo",
  "in",
  "notIn",
  "lessThan",
  "lessThanOrEqualTo",
  "greaterThan",
  "greaterThanOrEqualTo",
];

/** No relation filter towards an `@enum` lookup table: the column's enum filter says it all. */
const NoEnumTableRelationFiltersPlugin: GraphileConfig.Plugin = {
  name: "ProspectFlowNoEnumTableRelationFiltersPlugin",
  version: "1.0.0",
  schema: {
    entityBehavior: {
      pgCodecRelation: {
        inferred: {
          after: ["inferred"],
          provides: ["postInferred"],
          callback(behavior, relation) {
            const tag = relation.remoteResource.extensions?.tags?.enum;
            return tag === true || typeof tag === "string" ? [behavior, "-filterBy"] : behavior;
          },
        },
      },
    },
  },
};

export const DashboardFilterPreset: GraphileConfig.Preset = {
  extends: [PostGraphileConnectionFilterPreset],
  plugins: [NoEnumTableRelationFiltersPlugin],
  // The option connectionFilterLogicalOperators is not read by 4.0.1; this removes and/or/not.
  disablePlugins: ["PgConnectionArgFilterLogicalOperatorsPlugin"],
  schema: {
    connectionFilterAllowedOperators: ALLOWED_FILTER_OPERATORS,
    connectionFilterArrays: false,
    connectionFilterComputedColumns: false,
    connectionFilterSetofFunctions: false,
    connectionFilterLogicalOperators: false,
    connectionFilterRelations: true,
    connectionFilterAllowNullInput: false,
    connectionFilterAllowEmptyObjectInput: false,
  },
};
