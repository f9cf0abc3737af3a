// The anonymous identity mutations and those that hand out tokens: register, login,
// switchOrganisation, verifyEmail, requestPasswordReset and resetPassword. The database does the
// work (app_hidden.*: passwords, memberships, sessions, tokens, the mail outbox); this plugin
// signs a resulting session into a JWT with the server's secret.
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

/** What app_hidden.register answers: a session only when the sign-up came through an invitation. */
type RegisterGrant = Omit<SessionGrant, "session_id"> & { session_id: string | null };

export interface AuthPluginOptions {
  jwtSecret: string;
  lifetimeSeconds: number;
}

type Input = Record<string, unknown>;

/** What register answers without an invitation, whether or not the address already had an account. */
export const REGISTER_MESSAGE =
  "Check your mailbox: we sent a link to confirm this address. Sign in once it is confirmed.";
export const PASSWORD_RESET_REQUESTED_MESSAGE =
  "If an account uses this address, we mailed it a link to choose a new password (valid 30 minutes).";
export const EMAIL_VERIFIED_MESSAGE = "Your email address is confirmed: you can sign in.";
export const PASSWORD_RESET_MESSAGE = "Your password is changed and every session is signed out: sign in again.";

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
    /** Calls one of the anonymous functions that answer a fixed message, in a transaction. */
    const messageFrom =
      (sql: string, values: (input: Input) => unknown[], message: string) =>
      (_: unknown, fieldArgs: { getRaw(path: string): unknown }) => {
        const $input = fieldArgs.getRaw("input") as Parameters<typeof sideEffectWithPgClientTransaction>[1];
        const $done = sideEffectWithPgClientTransaction(executor, $input, async (pgClient, input) => {
          await pgClient.query({ text: sql, values: values(input as Input) });
          return message;
        });
        return lambda($done, (text: string) => ({ message: text }));
      };
    /** register: a session only when joining through an invitation; otherwise the same message for everyone. */
    const registerPlan = (_: unknown, fieldArgs: { getRaw(path: string): unknown }) => {
      const $input = fieldArgs.getRaw("input") as Parameters<typeof sideEffectWithPgClientTransaction>[1];
      const $grant = sideEffectWithPgClientTransaction(executor, $input, async (pgClient, raw) => {
        const input = raw as Input;
        const { rows } = await pgClient.query<RegisterGrant>({
          text: "select (g).* from app_hidden.register($1, $2, $3, $4, $5, $6) as g",
          values: [
            input.email,
            input.password,
            input.organisationName ?? null,
            input.invitationToken ?? null,
            input.locale ?? null,
            options.lifetimeSeconds,
          ],
        });
        return rows[0]!;
      });
      return lambda($grant, ({ session_id, ...grant }: RegisterGrant) =>
        session_id === null
          ? { message: REGISTER_MESSAGE, session: null }
          : {
              message: "Welcome: you are a member of the organisation that invited you.",
              session: toPayload({ ...grant, session_id }),
            },
      );
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
          10 characters to 72 bytes, mixing letters with digits or symbols.
          """
          password: String!
          """
          The organisation you create and own. Required without invitationToken; leave it out with one.
          """
          organisationName: String
          """
          The token of an invitation link: you join the inviting organisation with the invited role, your
          address counts as confirmed, and you are signed in.
          """
          invitationToken: String
          """
          Language of the mails we send you: en or fr.
          """
          locale: String
        }
        """
        What sign-up answers. Without an invitation the answer is the same whether or not the address already
        had an account (its owner is mailed a notice instead): confirm the address with the mailed link
        (verifyEmail), then sign in. With an invitation, \`session\` signs you in.
        """
        type RegisterPayload {
          message: String!
          session: AuthPayload
        }
        """
        A fixed answer that reveals nothing about which accounts exist.
        """
        type MessagePayload {
          message: String!
        }
        input VerifyEmailInput {
          """
          The token of the link we mailed.
          """
          token: String!
        }
        input RequestPasswordResetInput {
          email: String!
        }
        input ResetPasswordInput {
          """
          The token of the link we mailed.
          """
          token: String!
          newPassword: String!
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
          Creates your account and a new organisation you own (confirm the address, then sign in), or, with an
          invitation token, your account in the inviting organisation, signed in.
          """
          register(input: RegisterInput!): RegisterPayload
          """
          Signs you in to one of your organisations. A wrong email and a wrong password get the same answer.
          """
          login(input: LoginInput!): AuthPayload
          """
          Signs you in to another organisation you belong to.
          """
          switchOrganisation(input: SwitchOrganisationInput!): AuthPayload
          """
          Confirms your email address with the link we mailed at sign-up (it works once).
          """
          verifyEmail(input: VerifyEmailInput!): MessagePayload
          """
          Mails a link to choose a new password, if an account uses this address. Always the same answer.
          """
          requestPasswordReset(input: RequestPasswordResetInput!): MessagePayload
          """
          Sets a new password with the mailed link (once, within 30 minutes) and signs out every session.
          """
          resetPassword(input: ResetPasswordInput!): MessagePayload
        }
      `,
      objects: {
        Mutation: {
          plans: {
            register: registerPlan,
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
            verifyEmail: messageFrom(
              "select app_hidden.verify_email($1)",
              (input) => [input.token],
              EMAIL_VERIFIED_MESSAGE,
            ),
            requestPasswordReset: messageFrom(
              "select app_hidden.request_password_reset($1)",
              (input) => [input.email],
              PASSWORD_RESET_REQUESTED_MESSAGE,
            ),
            resetPassword: messageFrom(
              "select app_hidden.reset_password($1, $2)",
              (input) => [input.token, input.newPassword],
              PASSWORD_RESET_MESSAGE,
            ),
          },
        },
      },
    };
  });
}
