// HTTP load with autocannon on loopback: a fixed number of connections for a fixed time, every
// response's latency kept (sub-millisecond), errors counted: socket errors, timeouts, non-2xx
// answers, and 2xx answers whose body fails the check (a GraphQL `errors` array).
import autocannon, { type AutocannonRequest } from "autocannon";
import { percentile } from "./stats.ts";

export interface HttpLoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** The request; `prepare` (if given) rewrites it before each send (unique emails, random tokens). */
  request: AutocannonRequest & { prepare?: (request: AutocannonRequest) => AutocannonRequest };
  /** False for a 2xx body that is still a failure. */
  checkBody?: (body: string) => boolean;
}

export interface LoadMeasurement {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  errors: number;
  /** Answers with a 2xx status (the pixel's opens that must all be counted). */
  ok: number;
}

export function runHttpLoad(options: HttpLoadOptions): Promise<LoadMeasurement> {
  const latencies: number[] = [];
  const { prepare, ...request } = options.request;
  return new Promise((resolve, reject) => {
    const tracker = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        timeout: 30,
        requests: [prepare ? { ...request, setupRequest: prepare } : request],
        ...(options.checkBody ? { verifyBody: options.checkBody } : {}),
      },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        const completed = result["2xx"] + result.non2xx;
        resolve({
          requests: completed,
          seconds: result.duration,
          requestsPerSecond: completed / result.duration,
          p50Ms: percentile(latencies, 50),
          p99Ms: percentile(latencies, 99),
          errors: result.errors + result.timeouts + result.non2xx + result.mismatches,
          ok: result["2xx"],
        });
      },
    );
    tracker.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs);
    });
  });
}
