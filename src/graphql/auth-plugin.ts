// The mutations that hand out tokens: register, login and switchOrganisation. The database does
// the work (app_hidden.register/login/switch_organisation: passwords, memberships, sessions);
// this plugin signs the resulting session into a JWT with the server's secret.
import { sideEffectWithPgClientTransaction } from "postgraphile/@dataplan/pg";
import { lambda } from "postgraphile/grafast";
import { extendSchema } from "postgraphile/utils";
import { signToken } from "../auth/jwt.ts";

interface SessionGrant {
  user_id: string;
  organisation_id: string;
  session_id: string;
  expires_at: Date;
}

export interface AuthPluginOptions {
  jwtSecret: string;
  lifetimeSeconds: number;
}

type Input = Record<string, unknown>;

export function createAuthPlugin(options: AuthPluginOptions): GraphileConfig.Plugin {
  const toPayload = (grant: SessionGrant) => ({
    token: signToken(
      { userId: grant.user_id, organisationId: grant.organisation_id, sessionId: grant.session_id },
      options.jwtSecret,
      Math.max(1, Math.floor((grant.expires_at.getTime() - Date.now()) / 1000)),
    ),
    userId: grant.user_id,
    organisationId: grant.organisation_id,
    expiresAt: grant.expires_at.toISOString(),
  });

  return extendSchema((build) => {
    const executor = build.input.pgRegistry.pgExecutors.main!;
    /** Calls one of the session-granting functions with the field's input, in a transaction. */
    const grantFrom =
      (sql: string, values: (input: Input) => unknown[]) =>
      (_: unknown, fieldArgs: { getRaw(path: string): unknown }) => {
        const $input = fieldArgs.getRaw("input") as Parameters<typeof sideEffectWithPgClientTransaction>[1];
        const $grant = sideEffectWithPgClientTransaction(executor, $input, async (pgClient, input) => {
          const { rows } = await pgClient.query<SessionGrant>({ text: sql, values: values(input as Input) });
          return rows[0]!;
        });
        return lambda($grant, toPayload);
      };

    return {
      typeDefs: /* GraphQL */ `
        """
        A signed-in session. Send the token as the header \`Authorization: Bearer <token>\`.
        """
        type AuthPayload {
          token: String!
          userId: UUID!
          organisationId: UUID!
          expiresAt: Datetime!
        }
        input RegisterInput {
          email: String!
          """
          At least 10 characters, mixing letters with digits or symbols.
          """
          password: String!
          organisationName: String!
        }
        input LoginInput {
          email: String!
          password: String!
          """
          The organisation's slug; needed only when you belong to several.
          """
          organisation: String
        }
        input SwitchOrganisationInput {
          organisationId: UUID!
        }
        extend type Mutation {
          """
          Creates your account and a new organisation you own, and signs you in.
          """
          register(input: RegisterInput!): AuthPayload
          """
          Signs you in to one of your organisations. A wrong email and a wrong password get the same answer.
          """
          login(input: LoginInput!): AuthPayload
          """
          Signs you in to another organisation you belong to.
          """
          switchOrganisation(input: SwitchOrganisationInput!): AuthPayload
        }
      `,
      objects: {
        Mutation: {
          plans: {
            register: grantFrom("select (g).* from app_hidden.register($1, $2, $3, $4) as g", (input) => [
              input.email,
              input.password,
              input.organisationName,
              options.lifetimeSeconds,
            ]),
            login: grantFrom("select (g).* from app_hidden.login($1, $2, $3, $4) as g", (input) => [
              input.email,
              input.password,
              input.organisation ?? null,
              options.lifetimeSeconds,
            ]),
            switchOrganisation: grantFrom("select (g).* from app_hidden.switch_organisation($1, $2) as g", (input) => [
              input.organisationId,
              options.lifetimeSeconds,
            ]),
          },
        },
      },
    };
  });
}
