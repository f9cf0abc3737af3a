// The throttle, as a grafast `execute` middleware: it runs after the document is parsed and
// validated and before it is planned or executed, for every operation. For mutations it counts
// each root field against the limits of MUTATION_RULES (per client address, per account), bounds
// how many password-hashing mutations run at once on this instance, and afterwards records login
// failures. Refusals are GraphQL errors with a code; the grafserv middleware below turns them into
// HTTP 429 / 503 with Retry-After.
import { createHash } from "node:crypto";
import type { Request } from "express";
import { getOperationAST, GraphQLError } from "postgraphile/graphql";
import type {} from "postgraphile/grafserv";
import type { Logger } from "../logger.ts";
import { describeError, ErrorCode } from "../graphql/errors.ts";
import type { BlockedAddresses } from "./blocked-addresses.ts";
import { clientAddressOf, throttledAddress } from "./client-address.ts";
import type { ConcurrencyLimit } from "./concurrency.ts";
import { rootFieldCalls, type RootFieldCall } from "./operation.ts";
import { MUTATION_RULES, type LimiterName } from "./rules.ts";
import { isRefusal, type Limiter, type Limiters } from "./store.ts";
import { requestLogger } from "../logger.ts";

export interface Refusal {
  status: 429 | 503;
  code: typeof ErrorCode.RATE_LIMITED | typeof ErrorCode.SERVICE_BUSY | typeof ErrorCode.SERVICE_UNAVAILABLE;
  retryAfterSeconds: number;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set when the throttle refused the request: the HTTP status and Retry-After to answer with. */
      prospectflowRefusal?: Refusal;
      /** The GraphQL operation's name, for the access log. */
      prospectflowOperationName?: string;
    }
  }
}

export interface ThrottlingOptions {
  /** Undefined when THROTTLING=off: only the hashing bound applies. */
  limiters: Limiters | undefined;
  hashSlots: ConcurrencyLimit;
  /** Filled when the anonymous-mutation limit refuses an address (refused early by the HTTP layer). */
  blockedAddresses: BlockedAddresses;
  logger: Logger;
}

/** Counters are keyed by a hash: the table never holds an email address or an IP address in clear. */
const keyOf = (value: string) => createHash("sha256").update(value).digest("base64url").slice(0, 22);

interface Consumption {
  limiter: Limiter;
  key: string;
  points: number;
  /** Set for per-account failure counting: the calls whose outcome decides what is kept. */
  failuresOnly?: { code: ErrorCode; calls: RootFieldCall[] };
}

function consumptionsFor(calls: RootFieldCall[], anonymous: boolean, address: string, limiters: Limiters) {
  const consumptions = new Map<string, Consumption>();
  const add = (name: LimiterName, key: string, call?: RootFieldCall, failuresOnly?: ErrorCode) => {
    const id = `${name}:${key}`;
    const existing = consumptions.get(id);
    const consumption = existing ?? { limiter: limiters[name], key, points: 0 };
    consumption.points++;
    if (call && failuresOnly) {
      consumption.failuresOnly ??= { code: failuresOnly, calls: [] };
      consumption.failuresOnly.calls.push(call);
    }
    consumptions.set(id, consumption);
  };
  const addressKey = keyOf(address);
  for (const call of calls) {
    if (anonymous) add("anonymousMutationsPerAddress", addressKey);
    const rule = MUTATION_RULES[call.name];
    if (rule?.perAddress) add(rule.perAddress, addressKey);
    if (rule?.perAccount && call.email !== undefined) {
      add(rule.perAccount.limiter, keyOf(call.email), call, rule.perAccount.failuresOnly);
    }
  }
  // Per address first: a flood from one address is refused before it touches any account's count.
  return [...consumptions.values()].sort(
    (a, b) => Number(a.limiter.settings.keyedBy === "account") - Number(b.limiter.settings.keyedBy === "account"),
  );
}

function describeWait(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}

function refusalResult(req: Request | undefined, refusal: Refusal, message: string) {
  if (req) req.prospectflowRefusal = refusal;
  return {
    errors: [
      new GraphQLError(message, {
        extensions: { code: refusal.code, retryAfterSeconds: refusal.retryAfterSeconds },
      }),
    ],
  };
}

export function createThrottlingPlugin(options: ThrottlingOptions): GraphileConfig.Plugin {
  const { limiters, hashSlots, blockedAddresses, logger } = options;

  return {
    name: "ProspectFlowThrottlingPlugin",
    version: "1.0.0",
    grafast: {
      middleware: {
        async execute(next, event) {
          const { args } = event;
          const req = args.requestContext?.expressv4?.req as Request | undefined;
          const operation = getOperationAST(args.document, args.operationName) ?? undefined;
          if (req && operation?.name) req.prospectflowOperationName = operation.name.value;
          if (!req || operation?.operation !== "mutation") return next();

          const calls = rootFieldCalls(args.document, operation, args.variableValues);
          const anonymous = req.prospectflowAuthentication?.kind !== "member";
          const address = throttledAddress(clientAddressOf(req));
          const log = requestLogger(req, logger);

          const consumptions = limiters ? consumptionsFor(calls, anonymous, address, limiters) : [];
          const taken: Consumption[] = [];
          for (const consumption of consumptions) {
            try {
              await consumption.limiter.store.consume(consumption.key, consumption.points);
              taken.push(consumption);
            } catch (error) {
              // Nothing runs: counts taken "in case of failure" for earlier fields are given back.
              await Promise.all(settleAll(taken, NOT_RUN, log));
              if (!isRefusal(error)) {
                log.error({ err: error, limiter: consumption.limiter.name }, "throttle store failed");
                return refusalResult(
                  req,
                  { status: 503, code: ErrorCode.SERVICE_UNAVAILABLE, retryAfterSeconds: 5 },
                  "The service cannot check its request limits right now; try again shortly.",
                );
              }
              const retryAfterSeconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
              const { settings } = consumption.limiter;
              if (consumption.limiter.name === "anonymousMutationsPerAddress") {
                blockedAddresses.block(address, retryAfterSeconds);
              }
              log.warn(
                { code: ErrorCode.RATE_LIMITED, limiter: consumption.limiter.name, retryAfterSeconds },
                "request throttled",
              );
              return refusalResult(
                req,
                { status: 429, code: ErrorCode.RATE_LIMITED, retryAfterSeconds },
                `Too many ${settings.what} (at most ${settings.points} in ${describeWait(settings.durationSeconds)}); ` +
                  `try again in ${describeWait(retryAfterSeconds)}.`,
              );
            }
          }

          const hashes = calls.some((call) => MUTATION_RULES[call.name]?.hashesPassword);
          const release = hashes ? await hashSlots.acquire() : () => {};
          if (release === undefined) {
            log.warn(
              { code: ErrorCode.SERVICE_BUSY, running: hashSlots.running, waiting: hashSlots.waiting },
              "password hashing busy",
            );
            // The attempt never ran: it must not count as a login failure.
            await Promise.all(settleAll(consumptions, NOT_RUN, log));
            return refusalResult(
              req,
              { status: 503, code: ErrorCode.SERVICE_BUSY, retryAfterSeconds: 1 },
              "Too many sign-ins are being processed right now; try again in a second.",
            );
          }
          let result: Awaited<ReturnType<typeof next>>;
          try {
            result = await next();
          } catch (error) {
            // Whether the attempt ran is unknown: the counts stay as taken.
            release();
            throw error;
          }
          release();
          // An incremental (@defer) answer cannot be inspected here: its counts stay as taken.
          const outcome: Outcome =
            "errors" in result || "data" in result
              ? {
                  ran: true,
                  errors: Array.isArray(result.errors) ? result.errors : [],
                  data: (result.data ?? undefined) as Record<string, unknown> | undefined,
                }
              : UNKNOWN;
          await Promise.all(settleAll(consumptions, outcome, log));
          return result;
        },
      },
    },
    grafserv: {
      middleware: {
        // The throttle's refusals answer 429 / 503 with Retry-After, not 200 with an error.
        async processRequest(next, event) {
          const result = await next();
          const req = event.requestDigest.requestContext.expressv4?.req as Request | undefined;
          const refusal = req?.prospectflowRefusal;
          if (result === null || refusal === undefined || !("headers" in result)) return result;
          return {
            ...result,
            statusCode: refusal.status,
            headers: { ...result.headers, "retry-after": String(refusal.retryAfterSeconds) },
          } as typeof result;
        },
      },
    },
  };
}

/** What became of a mutation whose per-account counts were taken in advance. */
type Outcome =
  | { ran: true; errors: readonly GraphQLError[]; data: Record<string, unknown> | undefined }
  | { ran: false }
  | { ran: "unknown" };
const NOT_RUN: Outcome = { ran: false };
const UNKNOWN: Outcome = { ran: "unknown" };

/**
 * After the mutation: per-account counts taken "in case of failure" are kept for calls that
 * answered the failure code, cleared when one succeeded, and given back otherwise; given back
 * entirely when nothing ran, kept entirely when the outcome is unknown.
 */
function settleAll(consumptions: Consumption[], outcome: Outcome, log: Logger): Array<Promise<unknown>> {
  if (outcome.ran === "unknown") return [];
  const errors = outcome.ran ? outcome.errors : undefined;
  const data = outcome.ran ? outcome.data : undefined;
  return consumptions.flatMap((consumption) => {
    const failuresOnly = consumption.failuresOnly;
    if (!failuresOnly) return [];
    const { store, settings } = consumption.limiter;
    let failures = 0;
    let succeeded = false;
    for (const call of failuresOnly.calls) {
      const error = errors?.find((candidate) => candidate.path?.[0] === call.responseKey);
      // A success is an answer at the call's key: a call that did not run (e.g. `@skip`ped) has
      // none, and must not clear the account's failures.
      if (errors !== undefined && error === undefined && data?.[call.responseKey] != null) succeeded = true;
      else if (error && describeError(error)?.code === failuresOnly.code) failures++;
    }
    const settle = async () => {
      if (succeeded) {
        await store.delete(consumption.key);
        return;
      }
      const giveBack = consumption.points - failures;
      const state = giveBack > 0 ? await store.reward(consumption.key, giveBack) : await store.get(consumption.key);
      // The failure that reaches the limit starts the lockout (not the next attempt).
      if (failures > 0 && state && state.consumedPoints >= settings.points) {
        await store.block(consumption.key, settings.lockoutSeconds ?? settings.durationSeconds);
        log.warn({ code: ErrorCode.RATE_LIMITED, limiter: consumption.limiter.name }, "account locked");
      }
    };
    return [settle().catch((error: unknown) => log.error({ err: error }, "throttle store failed"))];
  });
}
