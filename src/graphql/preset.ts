// The PostGraphile V5 preset: which schemas become the API, how names are inflected, how each
// request's verified identity becomes transaction settings, and how errors are masked.
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import type pg from "pg";
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { pgSettingsFor } from "../auth/request-authentication.ts";
import type { ReadRouter } from "../db/replicas/read-routing.ts";
import { VISITOR_ROLE } from "../db/roles.ts";
import { createAuthPlugin } from "./auth-plugin.ts";
import { maskError } from "./errors.ts";
import { NotFoundOnEmptyMutationPlugin } from "./not-found-plugin.ts";
import { RequestErrorCodesPlugin } from "./request-error-codes-plugin.ts";
import { TenantInflectionPlugin, TenantSmartTagsPlugin } from "./tenant-conventions-plugin.ts";

/** The schemas PostGraphile exposes; private schemas (app_hidden, app_private) never are. */
export const EXPOSED_SCHEMAS = ["iam", "crm", "outreach", "tracking", "reference"];

export interface PresetOptions {
  /** The authenticator's pool: the only connection requests ever use. */
  authenticatorPool: pg.Pool;
  /** Development watch mode: rebuild the schema when the database changes (needs a superuser URL). */
  watch: { superuserUrl: string } | undefined;
  graphiql: boolean;
  statementTimeoutMs: number;
  /** Signs the tokens that register, login and switchOrganisation return. */
  tokens: { jwtSecret: string; lifetimeSeconds: number };
  /** Read replicas (READ_DATABASE_URL): routes each request's withPgClient; undefined = primary only. */
  readRouter?: ReadRouter | undefined;
}

export function createPreset(options: PresetOptions): GraphileConfig.Preset {
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
    plugins: [
      TenantSmartTagsPlugin,
      TenantInflectionPlugin,
      NotFoundOnEmptyMutationPlugin,
      RequestErrorCodesPlugin,
      createAuthPlugin(options.tokens),
    ],
    disablePlugins: ["NodePlugin"],
    pgServices: [
      makePgService({
        pool: options.authenticatorPool,
        schemas: EXPOSED_SCHEMAS,
        // Introspect as the visitor: what it cannot select or write is left out of the schema.
        pgSettingsForIntrospection: { role: VISITOR_ROLE },
        ...(options.watch ? { superuserConnectionString: options.watch.superuserUrl } : {}),
      }),
    ],
    gather: {
      installWatchFixtures: options.watch !== undefined,
    },
    grafast: {
      // Never: explain output would send SQL text to clients.
      explain: false,
      context(requestContext, args) {
        const authentication = requestContext.expressv4?.req.prospectflowAuthentication;
        return {
          pgSettings: {
            ...args.contextValue?.pgSettings,
            ...pgSettingsFor(authentication, options.statementTimeoutMs),
          },
          // Queries on a replica that has the client's writes, mutations on the primary (src/db/replicas).
          ...options.readRouter?.contextFor({
            document: args.document,
            operationName: args.operationName,
            primary: args.contextValue.withPgClient,
            authentication,
            req: requestContext.expressv4?.req,
            res: requestContext.expressv4?.res,
          }),
        };
      },
    },
    grafserv: {
      graphqlPath: "/graphql",
      graphiql: options.graphiql,
      graphiqlPath: "/graphiql",
      graphiqlOnGraphQLGET: false,
      watch: options.watch !== undefined,
      maskError,
    },
  };
}
