// `search: String` on the people, companies and positions collections (every connection or list of
// them, nested ones included): case- and accent-insensitive matching of names, emails, company
// names, SIREN and job titles, served by the trigram indexes of migration 000008 on each
// table's generated `search_document` column.
// An argument rather than a filter operator: one box searches several columns (and, for positions,
// the company), and the match can be ranked; `orderBy: SEARCH_RANK` puts the best matches first.
import type { PgSelectQueryBuilder } from "postgraphile/@dataplan/pg";
import { TYPES } from "postgraphile/@dataplan/pg";
import { GraphQLError } from "postgraphile/graphql";
import { sql, type SQL } from "postgraphile/pg-sql2";
import { ErrorCode } from "./errors.ts";

/** Longer queries are refused: a search box never needs more, and trigram work grows with length. */
export const MAX_SEARCH_LENGTH = 100;

interface Searchable {
  /** The table's search document (its indexed generated column), for ranking. */
  document(alias: SQL): SQL;
  /**
   * Where the matching rows are stored (their ctids, an array): a security-definer function
   * (migrations/committed/000013) that reads the trigram index for the caller's organisation
   * (under RLS, PostgreSQL cannot use the index for LIKE, which is not leakproof).
   */
  matchingCtids: SQL;
  /** The same as rows (`setof tid`), for collections under another row (migration 000014). */
  matchingCtidSet: SQL;
  description: string;
}

const searchDocument = (alias: SQL) => sql`${alias}.search_document`;

const SEARCHABLE: Record<string, Searchable> = {
  "crm.people": {
    document: searchDocument,
    matchingCtids: sql`app_hidden.people_matching_ctids`,
    matchingCtidSet: sql`app_hidden.people_matching_ctid_set`,
    description: "first name, last name or email",
  },
  "crm.companies": {
    document: searchDocument,
    matchingCtids: sql`app_hidden.companies_matching_ctids`,
    matchingCtidSet: sql`app_hidden.companies_matching_ctid_set`,
    description: "name, brand name, SIREN or headquarters SIRET",
  },
  "crm.positions": {
    document: searchDocument,
    matchingCtids: sql`app_hidden.positions_matching_ctids`,
    matchingCtidSet: sql`app_hidden.positions_matching_ctid_set`,
    description: "job title, work email, or the company's name or SIREN",
  },
};

/**
 * The search term reaches the SEARCH_RANK order through SQL, not through JavaScript: grafast may
 * apply a constant `orderBy` while planning and `search` while executing, on different objects.
 * So every searchable query joins a one-row `search_term` (null without a search), and
 * SEARCH_RANK orders by the similarity of that term to the row's document.
 */
const SEARCH_TERM = sql.identifier("search_term");

function searchableOf(codec: { extensions?: { pg?: { schemaName?: string; name?: string } } } | undefined) {
  const pg = codec?.extensions?.pg;
  return pg ? SEARCHABLE[`${pg.schemaName}.${pg.name}`] : undefined;
}

/**
 * How a collection reads its matches. A root field's query is its statement's main scan: it reads
 * the matches by address (a TID scan under the policies, as every read), cheaper than joining ids
 * to the other filters' rows (migration 000013; the sub-select runs the search once per statement,
 * never while planning). A collection under another row (`company { positions(search:) }`) runs
 * once per parent row, and there `= any(array)` would compare each of its rows with every match:
 * it joins the matches as rows of a function scan instead (`*_matching_ctid_set`, migration
 * 000014), which PostgreSQL keeps within work_mem and hashes against each parent's rows, as the
 * id functions before 000013 were. Measured on the bench's large organisation, 100 companies'
 * positions searched for "dup": 64 ms with the ids before 000013, 230 ms with `= any`, 61 ms
 * this way. A hashed subplan (`(… in (select …)) is true`) took 21 ms but was not kept: its hash
 * table ignores work_mem, ~60 bytes per match per alias, which a request of 50 aliases of a
 * broad search could make hundreds of megabytes.
 */
type MatchReading = "by-address" | "joined";

function applySearch(searchable: Searchable, qb: PgSelectQueryBuilder, value: unknown, reading: MatchReading): void {
  const query = typeof value === "string" ? value.trim() : "";
  if (query.length > MAX_SEARCH_LENGTH) {
    throw new GraphQLError(`search is at most ${MAX_SEARCH_LENGTH} characters long.`, {
      extensions: { code: ErrorCode.INVALID_INPUT },
    });
  }
  qb.join({
    type: "cross",
    from: sql`(select app_hidden.search_text(${sql.value(query === "" ? null : query)}) as q)`,
    alias: SEARCH_TERM,
  });
  if (query === "") return;
  const term = sql.value(query);
  const match = sql.identifier(Symbol("match"));
  qb.where(
    reading === "by-address"
      ? sql`${qb.alias}.ctid = any((select ${searchable.matchingCtids}(${term}))::tid[])`
      : sql`${qb.alias}.ctid in (select ${match} from ${searchable.matchingCtidSet}(${term}) as ${match})`,
  );
}

export const SearchPlugin: GraphileConfig.Plugin = {
  name: "ProspectFlowSearchPlugin",
  version: "1.0.0",
  description: "search: String on people, companies and positions, and orderBy SEARCH_RANK",
  after: ["PgConnectionArgOrderByPlugin", "PgConditionArgumentPlugin", "PgConnectionArgFilterPlugin"],
  schema: {
    hooks: {
      GraphQLObjectType_fields_field_args(args, build, context) {
        const { isPgFieldConnection, isPgFieldSimpleCollection, pgFieldResource } = context.scope;
        if (!(isPgFieldConnection || isPgFieldSimpleCollection) || !pgFieldResource || pgFieldResource.parameters) {
          return args;
        }
        const searchable = searchableOf(pgFieldResource.codec);
        if (!searchable) return args;
        const reading: MatchReading = context.Self.name === build.inflection.builtin("Query") ? "by-address" : "joined";
        const search = {
          description: `Only rows whose ${searchable.description} contains this text, ignoring case and accents ("lea" finds "Léa"); at most ${MAX_SEARCH_LENGTH} characters. Combine with \`orderBy: SEARCH_RANK\` for the best matches first.`,
          type: build.graphql.GraphQLString,
          // Always applied (an empty search matches everything), so SEARCH_RANK always finds search_term.
          defaultValue: "",
          // Grafast's own types are deliberately loose here; the connection's subplan is a PgSelectStep.
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          applyPlan(_parent: unknown, $target: any, arg: any) {
            const $select = isPgFieldConnection ? $target.getSubplan() : $target;
            arg.apply($select, (qb: PgSelectQueryBuilder, value: unknown) => {
              applySearch(searchable, qb, value, reading);
              return undefined;
            });
          },
        };
        // Next to orderBy, for readers of the schema (nothing depends on the position).
        const entries = Object.entries(args);
        const at = entries.findIndex(([name]) => name === "orderBy");
        entries.splice(at === -1 ? entries.length : at, 0, ["search", search]);
        return Object.fromEntries(entries) as typeof args;
      },
      GraphQLEnumType_values(values, build, context) {
        // The enum scope's codec type is not exported by graphile-build-pg; only extensions.pg is read.
        const { isPgRowSortEnum, pgCodec } = context.scope as { isPgRowSortEnum?: boolean; pgCodec?: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
        const searchable = searchableOf(pgCodec);
        if (!isPgRowSortEnum || !searchable) return values;
        return build.extend(
          values,
          {
            SEARCH_RANK: {
              description: "Best matches of `search` first (without `search`, no effect).",
              extensions: {
                grafast: {
                  apply(qb: PgSelectQueryBuilder) {
                    qb.orderBy({
                      fragment: sql`extensions.word_similarity(${SEARCH_TERM}.q, ${searchable.document(qb.alias)})`,
                      codec: TYPES.float4,
                      direction: "DESC",
                      // Null without a search: no effect on the order, and cursors stay valid.
                      nullable: true,
                    });
                  },
                },
              },
            },
          },
          "Adding SEARCH_RANK to a searchable table's orderBy",
        );
      },
    },
  },
};
