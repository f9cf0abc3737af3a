// People ordered by last name or first name. Names are nullable, and @dataplan/pg 1.x builds the
// `after`/`before` condition of a nullable order the wrong way round (a person without a last name
// is skipped from the second page on; test/dashboard.test.ts shows it). These orders therefore
// sort on `coalesce(name, '')`, never null (people without the name come first in ascending
// order), served by the expression indexes of migrations/current/520.
import { TYPES, type PgSelectQueryBuilder } from "postgraphile/@dataplan/pg";
import { sql } from "postgraphile/pg-sql2";

const NAME_ORDERS: Array<{ value: string; attributes: string[]; direction: "ASC" | "DESC" }> = [
  { value: "LAST_NAME_ASC", attributes: ["last_name", "first_name"], direction: "ASC" },
  { value: "LAST_NAME_DESC", attributes: ["last_name", "first_name"], direction: "DESC" },
  { value: "FIRST_NAME_ASC", attributes: ["first_name"], direction: "ASC" },
  { value: "FIRST_NAME_DESC", attributes: ["first_name"], direction: "DESC" },
];

export const NameOrderPlugin: GraphileConfig.Plugin = {
  name: "ProspectFlowNameOrderPlugin",
  version: "1.0.0",
  description: "people(orderBy: LAST_NAME_*/FIRST_NAME_*) on never-null expressions",
  after: ["PgOrderAllAttributesPlugin"],
  schema: {
    hooks: {
      GraphQLEnumType_values(values, build, context) {
        // The enum scope's codec type is not exported by graphile-build-pg; only extensions.pg is read.
        const { isPgRowSortEnum, pgCodec } = context.scope as { isPgRowSortEnum?: boolean; pgCodec?: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
        const pg = pgCodec?.extensions?.pg;
        if (!isPgRowSortEnum || pg?.schemaName !== "crm" || pg?.name !== "people") return values;
        const replaced = { ...values };
        for (const order of NAME_ORDERS) {
          replaced[order.value] = {
            description: `By ${order.attributes.join(", then ").replace(/_/g, " ")}, ${order.direction === "ASC" ? "A to Z" : "Z to A"} (no name sorts as "").`,
            extensions: {
              grafast: {
                apply(qb: PgSelectQueryBuilder) {
                  for (const attribute of order.attributes) {
                    qb.orderBy({
                      fragment: sql`coalesce(${qb.alias}.${sql.identifier(attribute)}, '')`,
                      codec: TYPES.text,
                      direction: order.direction,
                      nullable: false,
                    });
                  }
                },
              },
            },
          };
        }
        return replaced;
      },
    },
  },
};
