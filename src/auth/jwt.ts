// Signing and verifying the API's bearer tokens: HS256 only; sub, organisation_id, sid, iat and
// exp required; iat not in the future, exp no further away than the configured lifetime.
import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";

export const JWT_ISSUER = "prospectflow-api";
export const JWT_AUDIENCE = "prospectflow-api";
const ALGORITHM = "HS256";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TokenClaims {
  /** The signed-in user (JWT `sub`). */
  userId: string;
  /** The organisation this token acts in. */
  organisationId: string;
  /** The session (JWT `sid`) that logout revokes; every token carries one (refused without). */
  sessionId: string;
  /** When the token was signed (JWT `iat`, seconds): read routing keeps fresh sessions on the primary. */
  issuedAt?: number;
}

/** Why a token was refused; sent to the client as `extensions.reason`. */
export type TokenRejection =
  | "malformed"
  | "expired"
  | "invalid_signature"
  | "invalid_claims"
  | "missing_session"
  | "issued_in_future"
  | "lifetime_exceeded";

/** Clocks of the signing and verifying machines may differ by this much (iat, exp checks). */
export const CLOCK_SKEW_SECONDS = 30;

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenRejection; message: string };

let cachedSecretKey: { secret: string; key: KeyObject } | undefined;

/**
 * The secret as a KeyObject, made once per secret: given a string, jsonwebtoken converts it on
 * every call (first trying it as a public key, which throws), about 20 µs of each request.
 */
function secretKey(secret: string): KeyObject {
  if (cachedSecretKey?.secret !== secret)
    cachedSecretKey = { secret, key: createSecretKey(Buffer.from(secret, "utf8")) };
  return cachedSecretKey.key;
}

export function signToken(claims: TokenClaims, secret: string, lifetimeSeconds: number): string {
  const payload = { organisation_id: claims.organisationId, sid: claims.sessionId };
  return jwt.sign(payload, secretKey(secret), {
    algorithm: ALGORITHM,
    subject: claims.userId,
    expiresIn: lifetimeSeconds,
    issuer: JWT_ISSUER,
    audience: JWT_AUDIENCE,
  });
}

export interface VerifyOptions {
  /** The longest lifetime this server signs (JWT_LIFETIME_SECONDS): a token promising more was not ours. */
  lifetimeSeconds: number;
  /** Seconds since the epoch; tests pass their own. */
  now?: number;
}

export function verifyToken(token: string, secret: string, options: VerifyOptions): VerifyResult {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, secretKey(secret), {
      algorithms: [ALGORITHM],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      clockTimestamp: now,
    });
  } catch (error) {
    if (error instanceof jwt.TokenExpiredError) {
      return { ok: false, reason: "expired", message: "The token has expired; sign in again." };
    }
    if (error instanceof jwt.JsonWebTokenError) {
      const malformed =
        ["jwt malformed", "invalid token", "jwt must be provided"].includes(error.message) ||
        error.message.startsWith("Unexpected token") ||
        error.message.includes("JSON");
      return malformed
        ? { ok: false, reason: "malformed", message: "The token is not a well-formed JWT." }
        : { ok: false, reason: "invalid_signature", message: "The token's signature or issuer is not valid." };
    }
    if (error instanceof jwt.NotBeforeError) {
      return { ok: false, reason: "invalid_claims", message: "The token is not valid yet." };
    }
    throw error;
  }
  if (typeof payload === "string") {
    return { ok: false, reason: "malformed", message: "The token's payload is not a JSON object." };
  }
  if (typeof payload.exp !== "number") {
    return { ok: false, reason: "invalid_claims", message: "The token has no expiry (exp claim)." };
  }
  if (typeof payload.iat !== "number") {
    return { ok: false, reason: "invalid_claims", message: "The token has no issue time (iat claim)." };
  }
  if (payload.iat > now + CLOCK_SKEW_SECONDS) {
    return { ok: false, reason: "issued_in_future", message: "The token's issue time (iat) is in the future." };
  }
  if (payload.exp - now > options.lifetimeSeconds + CLOCK_SKEW_SECONDS) {
    return {
      ok: false,
      reason: "lifetime_exceeded",
      message: `The token's expiry is further away than this server's token lifetime (${options.lifetimeSeconds} s).`,
    };
  }
  const userId = payload.sub;
  const organisationId = (payload as { organisation_id?: unknown }).organisation_id;
  if (typeof userId !== "string" || !UUID.test(userId)) {
    return { ok: false, reason: "invalid_claims", message: "The token's sub claim must be a user UUID." };
  }
  if (typeof organisationId !== "string" || !UUID.test(organisationId)) {
    return {
      ok: false,
      reason: "invalid_claims",
      message: "The token's organisation_id claim must be an organisation UUID.",
    };
  }
  const sessionId = (payload as { sid?: unknown }).sid;
  if (sessionId === undefined) {
    return {
      ok: false,
      reason: "missing_session",
      message: "The token names no session (sid claim); sign in to get a token with one.",
    };
  }
  if (typeof sessionId !== "string" || !UUID.test(sessionId)) {
    return { ok: false, reason: "invalid_claims", message: "The token's sid claim must be a session UUID." };
  }
  const issuedAt = typeof payload.iat === "number" ? { issuedAt: payload.iat } : {};
  return { ok: true, claims: { userId, organisationId, sessionId, ...issuedAt } };
}
