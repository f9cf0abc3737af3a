// The PostGraphile V5 preset: which schemas become the API, how names are inflected, how each
// request's verified identity becomes transaction settings, and how errors are masked.
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import type { GraphQLError } from "postgraphile/graphql";
import type pg from "pg";
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { pgSettingsFor } from "../auth/request-authentication.ts";
import type { LimitsConfig } from "../config.ts";
import type { DocumentStore } from "../documents/document-store.ts";
import { createTrustedDocumentsPresetParts } from "../documents/trusted-documents-plugin.ts";
import { createDefaultPageSizePlugin } from "../limits/default-page-size-plugin.ts";
import { createLimitsPlugin } from "../limits/limits-plugin.ts";
import { withPlanningTimeoutCode } from "../limits/planning-timeout.ts";
import type { ReadRouter } from "../db/replicas/read-routing.ts";
import { makeRequestWithPgClient } from "../db/request-transaction.ts";
import { VISITOR_ROLE } from "../db/roles.ts";
import { createAuthPlugin } from "./auth-plugin.ts";
import { createLogger, type Logger } from "../logger.ts";
import { createMaskError } from "./errors.ts";
import { EnumValuesPlugin } from "./enum-values-plugin.ts";
import { DashboardFilterPreset } from "./filter-preset.ts";
import { NameOrderPlugin } from "./name-order-plugin.ts";
import { ruruOptions } from "./ruru-welcome.ts";
import { SearchPlugin } from "./search-plugin.ts";
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
  /** Masked errors are logged here (one JSON line each, with the hash the client sees); default: warn level. */
  logger?: Logger;
  /** Plugins of the server's other concerns (the throttle), added after the GraphQL ones. */
  extraPlugins?: GraphileConfig.Plugin[];
  /**
   * GraphQL limits and trusted documents (src/limits/, src/documents/). The server always passes
   * them; only tools that build a schema without serving the public (bench/explain.ts) leave them out.
   */
  guards?: GuardOptions;
  /** Read replicas (READ_DATABASE_URL): routes each request's withPgClient; undefined = primary only. */
  readRouter?: ReadRouter | undefined;
}

export interface GuardOptions {
  limits: LimitsConfig;
  documents: { enforce: boolean; store: DocumentStore };
  /** Every refusal is logged here with its code. */
  logger: Logger;
}

/** The preset parts of the limits and trusted documents, kept together. */
function guardParts(guards: GuardOptions | undefined, maskError: (error: GraphQLError) => GraphQLError) {
  if (guards === undefined) return { plugins: [], grafast: {}, grafserv: {}, maskError };
  const trusted = createTrustedDocumentsPresetParts(guards.documents, guards.logger);
  return {
    plugins: [
      ...trusted.plugins,
      createLimitsPlugin(guards.limits, guards.logger),
      createDefaultPageSizePlugin(guards.limits.defaultPageSize, guards.limits.maxPageSize),
    ],
    grafast: { timeouts: { planning: guards.limits.planningTimeoutMs } },
    grafserv: { ...trusted.grafserv, maxRequestLength: guards.limits.maxBodyBytes },
    maskError: withPlanningTimeoutCode(maskError, guards.limits.planningTimeoutMs, guards.logger),
  };
}

export function createPreset(options: PresetOptions): GraphileConfig.Preset {
  const guards = guardParts(options.guards, createMaskError(options.logger ?? createLogger("warn")));
  // Every request's transaction opens in one round trip (begin and settings together).
  const withPgClient = makeRequestWithPgClient(options.authenticatorPool);
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, DashboardFilterPreset],
    plugins: [
      // Dashboard: search, lookup-table enums (filters come with DashboardFilterPreset).
      SearchPlugin,
      NameOrderPlugin,
      EnumValuesPlugin,
      TenantSmartTagsPlugin,
      TenantInflectionPlugin,
      NotFoundOnEmptyMutationPlugin,
      RequestErrorCodesPlugin,
      createAuthPlugin(options.tokens),
      ...guards.plugins,
      ...(options.extraPlugins ?? []),
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
      ...guards.grafast,
      context(requestContext, args) {
        const authentication = requestContext.expressv4?.req.prospectflowAuthentication;
        return {
          pgSettings: {
            ...args.contextValue.pgSettings,
            ...pgSettingsFor(authentication, options.statementTimeoutMs),
          },
          withPgClient,
          // Queries on a replica that has the client's writes, mutations on the primary (src/db/replicas).
          ...options.readRouter?.contextFor({
            document: args.document,
            operationName: args.operationName,
            primary: withPgClient,
            authentication,
            req: requestContext.expressv4?.req,
            res: requestContext.expressv4?.res,
          }),
        };
      },
    },
    // Dashboard: GraphiQL opens on the project's operations with the header template.
    ruru: ruruOptions(),
    grafserv: {
      graphqlPath: "/graphql",
      graphiql: options.graphiql,
      graphiqlPath: "/graphiql",
      graphiqlOnGraphQLGET: false,
      watch: options.watch !== undefined,
      ...guards.grafserv,
      maskError: guards.maskError,
    },
  };
}
