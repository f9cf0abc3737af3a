// Which mutations are throttled and how: the one table to extend when a mutation is added.
// Keyed by the mutation's root field name; applied outside the mutations' own code (plugin.ts).
import type { ThrottlingConfig } from "../config.ts";
import { ErrorCode } from "../graphql/errors.ts";

/** The limiters (each a counter per key in app_throttle.counters, shared by every instance). */
export type LimiterName =
  | "anonymousMutationsPerAddress"
  | "loginPerAddress"
  | "registerPerAddress"
  | "loginFailuresPerAccount"
  | "passwordResetRequestsPerAccount"
  | "passwordResetRequestsPerAddress";

export interface LimiterSettings {
  points: number;
  durationSeconds: number;
  /** What the refusal says is being limited ("failed logins for this account"). */
  what: string;
  /** Per client address, or per account (input.email). */
  keyedBy: "address" | "account";
  /** For failure counts: how long the key is refused once the limit is reached. */
  lockoutSeconds?: number;
}

export interface MutationRule {
  /** Counted per client address, signed in or not (on top of anonymousMutationsPerAddress). */
  perAddress?: LimiterName;
  /**
   * Counted per account, keyed on `input.email`. With `failuresOnly`, an attempt counts only when
   * the mutation answers that code (the count is taken before the attempt, so that concurrent
   * attempts cannot all pass, and given back otherwise); a success clears the count.
   */
  perAccount?: { limiter: LimiterName; failuresOnly?: ErrorCode };
  /** Hashes a password (bcrypt in PostgreSQL): waits for one of this instance's hashing slots. */
  hashesPassword?: boolean;
}

/**
 * Every mutation of an anonymous request also counts against `anonymousMutationsPerAddress`,
 * listed here or not. Names of mutations not in the schema yet (the membership work) are listed
 * so that they are throttled the day they land.
 */
export const MUTATION_RULES: Readonly<Record<string, MutationRule>> = {
  login: {
    perAddress: "loginPerAddress",
    perAccount: { limiter: "loginFailuresPerAccount", failuresOnly: ErrorCode.INVALID_CREDENTIALS },
    hashesPassword: true,
  },
  register: { perAddress: "registerPerAddress", hashesPassword: true },
  // Per address too, signed in or not: a token must not make an address free to mail any number of accounts.
  requestPasswordReset: {
    perAddress: "passwordResetRequestsPerAddress",
    perAccount: { limiter: "passwordResetRequestsPerAccount" },
  },
  resetPassword: { hashesPassword: true },
  acceptInvitation: { hashesPassword: true },
  changePassword: { hashesPassword: true },
  verifyEmail: {},
};

/** Password-reset mails per account per hour: a fixed, small number (each one is a mail sent). */
const PASSWORD_RESET_REQUESTS_PER_HOUR = 5;
/** Password-reset requests per client address per hour, whatever the accounts (each one may mail). */
const PASSWORD_RESET_REQUESTS_PER_ADDRESS_PER_HOUR = 30;

export function limiterSettings(config: ThrottlingConfig): Record<LimiterName, LimiterSettings> {
  return {
    anonymousMutationsPerAddress: {
      points: config.anonymousMutationsPerAddressPerMinute,
      durationSeconds: 60,
      what: "requests without a token from your address",
      keyedBy: "address",
    },
    loginPerAddress: {
      points: config.loginPerAddressPerMinute,
      durationSeconds: 60,
      what: "login attempts from your address",
      keyedBy: "address",
    },
    registerPerAddress: {
      points: config.registerPerAddressPerHour,
      durationSeconds: 3600,
      what: "sign-ups from your address",
      keyedBy: "address",
    },
    loginFailuresPerAccount: {
      points: config.loginMaxFailures,
      durationSeconds: config.loginFailureWindowSeconds,
      what: "failed logins for this account",
      keyedBy: "account",
      lockoutSeconds: config.loginLockoutSeconds,
    },
    passwordResetRequestsPerAccount: {
      points: PASSWORD_RESET_REQUESTS_PER_HOUR,
      durationSeconds: 3600,
      what: "password reset requests for this account",
      keyedBy: "account",
    },
    passwordResetRequestsPerAddress: {
      points: PASSWORD_RESET_REQUESTS_PER_ADDRESS_PER_HOUR,
      durationSeconds: 3600,
      what: "password reset requests from your address",
      keyedBy: "address",
    },
  };
}
