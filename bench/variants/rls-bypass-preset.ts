// Variant b's PostGraphile preset: the shipped preset (src/graphql/preset.ts) unchanged, except
// that the pool logs in as a bench-only role with BYPASSRLS, requests keep that role instead of
// switching to the visitor, and every table read gets an explicit tenant filter instead:
// `<table>.organisation_id = $n` (the token's organisation as a query parameter). Same schema,
// same plans where RLS is not involved: the difference in throughput is what RLS costs.
//
// This lives in bench/ only. The shipped server has no way to configure any of it, and its
// start-up refuses a BYPASSRLS login anyway (src/db/serving-role-check.ts).
import type pg from "pg";
import { TYPES, type PgSelectStep } from "postgraphile/@dataplan/pg";
import { context } from "postgraphile/grafast";
import { sql, type SQL } from "postgraphile/pg-sql2";
import { createPreset } from "../../src/graphql/preset.ts";
export { BYPASS_ROLE } from "./bypass-role.ts";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- augmenting Grafast's global namespace
  namespace Grafast {
    interface Context {
      /** Variant b only: the token's organisation, for the explicit tenant filter. */
      benchOrganisationId?: string;
    }
  }
}

const TENANT_SCHEMAS = new Set(["iam", "crm", "outreach", "tracking"]);

/** The explicit filter each tenant table gets, given the alias and the organisation placeholder. */
function tenantFilterFor(
  schema: string,
  table: string,
  columns: string[],
): ((alias: SQL, organisation: SQL) => SQL) | undefined {
  if (!TENANT_SCHEMAS.has(schema)) return undefined;
  if (columns.includes("organisation_id"))
    return (alias, organisation) => sql`${alias}.organisation_id = ${organisation}`;
  if (schema === "iam" && table === "organisations") return (alias, organisation) => sql`${alias}.id = ${organisation}`;
  if (schema === "iam" && table === "users") {
    // The visitor's policy shows colleagues only; say the same explicitly.
    return (alias, organisation) =>
      sql`${alias}.id in (select m.user_id from iam.organisation_users m where m.organisation_id = ${organisation})`;
  }
  throw new Error(`bench: no explicit tenant filter for ${schema}.${table}`);
}

/** Adds `selectAuth` (applied by @dataplan/pg to every select of a resource) to tenant tables. */
export const ExplicitTenantFilterPlugin: GraphileConfig.Plugin = {
  name: "BenchExplicitTenantFilterPlugin",
  version: "1.0.0",
  gather: {
    hooks: {
      pgTables_PgResourceOptions(_info, event) {
        const { pgClass, resourceOptions } = event;
        if (pgClass.relkind !== "r" && pgClass.relkind !== "p") return; // tables only, not composite types
        const filter = tenantFilterFor(
          pgClass.getNamespace()!.nspname,
          pgClass.relname,
          pgClass.getAttributes().map((a) => a.attname),
        );
        if (!filter) return;
        resourceOptions.selectAuth = ($step: PgSelectStep) => {
          const organisation = $step.placeholder(context().get("benchOrganisationId"), TYPES.uuid);
          $step.where(filter($step.alias, organisation));
        };
      },
    },
  },
};

export function createRlsBypassPreset(options: {
  pool: pg.Pool;
  statementTimeoutMs: number;
  jwtSecret: string;
}): GraphileConfig.Preset {
  return {
    extends: [
      createPreset({
        authenticatorPool: options.pool,
        watch: undefined,
        graphiql: false,
        statementTimeoutMs: options.statementTimeoutMs,
        tokens: { jwtSecret: options.jwtSecret, lifetimeSeconds: 6 * 3600 },
      }),
    ],
    plugins: [ExplicitTenantFilterPlugin],
    grafast: {
      context(requestContext) {
        const authentication = requestContext.expressv4?.req.prospectflowAuthentication;
        if (authentication?.kind !== "member") throw new Error("bench variant b serves members only");
        return {
          // No `role`: the request stays the BYPASSRLS login role (which inherits the visitor's
          // grants). Column defaults and functions still read the tenant settings.
          pgSettings: {
            statement_timeout: String(options.statementTimeoutMs),
            "app.organisation_id": authentication.organisationId,
            "app.user_id": authentication.userId,
            "app.session_id": authentication.sessionId,
          },
          benchOrganisationId: authentication.organisationId,
        };
      },
    },
  };
}
