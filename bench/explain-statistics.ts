// What the planner knows about organisation_id in each tenant table of a bench database, for
// `npm run bench:explain`: the distinct organisations it estimates (pg_stats.n_distinct) against
// the real number, how many of them its most-common-values list holds, and the rows per
// organisation it assumes when it does not know which one (a generic plan, or a value compared
// through the policies' InitPlan) against the rows of the probe and of the first large
// organisation. A plan that changes shape with the number of tenants starts here.
import pg from "pg";
import { MEMBER_ORGANISATIONS } from "./setup.ts";

interface Row {
  table: string;
  reltuples: number;
  n_distinct: number | null;
  mcv: number | null;
  actual_distinct: number;
  probe_rows: number;
  large_rows: number;
}

export async function organisationStatistics(ownerUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ name: string }>(
      `select format('%I.%I', c.table_schema, c.table_name) as name
         from information_schema.columns c
         join information_schema.tables t using (table_schema, table_name)
        where c.column_name = 'organisation_id' and c.ordinal_position = 1 and t.table_type = 'BASE TABLE'
          and c.table_schema in ('iam', 'crm', 'outreach', 'tracking')
        order by 1`,
    );
    const { rows: ids } = await client.query<{ slug: string; id: string }>(
      "select slug, id from iam.organisations where slug = any($1)",
      [Object.values(MEMBER_ORGANISATIONS)],
    );
    const idOf = (slug: string) => ids.find((r) => r.slug === slug)?.id ?? null;
    const rows: Row[] = [];
    for (const { name } of tables) {
      const { rows: found } = await client.query<Row>(
        `select $1::text as table, c.reltuples::float8 as reltuples, s.n_distinct::float8 as n_distinct,
                cardinality(s.most_common_vals::text::text[]) as mcv,
                (select count(distinct organisation_id) from ${name})::int as actual_distinct,
                (select count(*) from ${name} where organisation_id = $2)::int as probe_rows,
                (select count(*) from ${name} where organisation_id = $3)::int as large_rows
           from pg_class c
           left join pg_stats s on s.schemaname = split_part($1, '.', 1) and s.tablename = split_part($1, '.', 2)
                               and s.attname = 'organisation_id'
          where c.oid = $1::regclass`,
        [name, idOf(MEMBER_ORGANISATIONS.probe), idOf(MEMBER_ORGANISATIONS.large)],
      );
      rows.push(found[0]!);
    }
    const lines = [
      "table | rows | distinct organisations: estimated / real | in the MCV list | rows per organisation assumed | probe's rows | large's rows",
    ];
    for (const r of rows) {
      // n_distinct < 0 is a fraction of the rows; > 0 an absolute count.
      const distinct =
        r.n_distinct === null ? undefined : r.n_distinct < 0 ? -r.n_distinct * r.reltuples : r.n_distinct;
      const perOrganisation = distinct ? r.reltuples / distinct : undefined;
      lines.push(
        `${r.table} | ${Math.round(r.reltuples)} | ${distinct === undefined ? "–" : Math.round(distinct)} / ${r.actual_distinct} | ` +
          `${r.mcv ?? 0} | ${perOrganisation === undefined ? "–" : perOrganisation.toFixed(0)} | ${r.probe_rows} | ${r.large_rows}`,
      );
    }
    return lines;
  } finally {
    await client.end();
  }
}
