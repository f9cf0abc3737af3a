// The read replicas of one API instance: a pool per replica and a monitor that, every check
// interval, reads the primary's WAL position and each replica's replay position, and derives how
// far behind each replica is (in time). Routing (read-routing.ts) uses only this cached state,
// so choosing a replica costs no query. Exposes replicaStatus() for /readyz and metrics.
import pg from "pg";
import type { Logger } from "../../logger.ts";
import { formatLsn, parseLsn, type Lsn } from "./lsn.ts";

export type ReplicaState = "ok" | "lagging" | "unreachable" | "not_a_replica" | "unknown";

/** One replica as /readyz and metrics report it (no host names or credentials). */
export interface ReplicaStatus {
  /** `replica-1`, `replica-2`, … in READ_DATABASE_URL's order. */
  name: string;
  state: ReplicaState;
  /** Queries may be sent to it (state ok, measured recently). */
  usable: boolean;
  /**
   * Lag behind the primary, in ms: how long ago the primary stood at the newest position this
   * replica has replayed (an upper bound; grows between checks). Null when unknown.
   */
  lagMs: number | null;
  /** Its replay position (pg_last_wal_replay_lsn). */
  replayLsn: string | null;
  /** WAL replay paused (pg_wal_replay_pause): it falls behind until resumed. */
  replayPaused: boolean | null;
  /** When the last check succeeded (ISO time), null if never. */
  checkedAt: string | null;
  /** Queries (database transactions of GraphQL queries) it has served since start. */
  served: number;
  /** Its pool, for metrics: connections open, idle, and requests waiting for one. */
  pool: { total: number; idle: number; waiting: number };
}

export interface ReplicaSetOptions {
  urls: string[];
  maxLagMs: number;
  checkIntervalMs: number;
  pool: { max: number; connectionTimeoutMs: number; idleTimeoutMs: number };
  applicationName: string;
  /** The primary's authenticator pool: the monitor reads pg_current_wal_lsn() there once per interval. */
  primaryPool: pg.Pool;
  logger: Logger;
}

export interface Replica {
  name: string;
  pool: pg.Pool;
  state: ReplicaState;
  replayLsn: Lsn | undefined;
  replayPaused: boolean | undefined;
  /**
   * The time of the newest primary position it has replayed: it holds every commit made before
   * then. Its lag at any moment is now minus this, growing between checks.
   */
  caughtUpTo: number | undefined;
  checkedAt: number | undefined;
  served: number;
}

/** How long the primary's positions are remembered: beyond it a replica's lag only reads "more than this". */
const HISTORY_FACTOR = 4;

export class ReplicaSet {
  readonly replicas: Replica[];
  readonly maxLagMs: number;
  readonly checkIntervalMs: number;
  private readonly primaryPool: pg.Pool;
  private readonly logger: Logger;
  /** (time, primary position) samples, oldest first. */
  private history: { at: number; lsn: Lsn }[] = [];
  /** The primary's pg_control_system().system_identifier: a replica of another cluster has another. */
  private primarySystem: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private next = 0;

  constructor(options: ReplicaSetOptions) {
    this.maxLagMs = options.maxLagMs;
    this.checkIntervalMs = options.checkIntervalMs;
    this.primaryPool = options.primaryPool;
    this.logger = options.logger;
    this.replicas = options.urls.map((url, index) => {
      const pool = new pg.Pool({
        connectionString: url,
        application_name: options.applicationName,
        max: options.pool.max,
        connectionTimeoutMillis: options.pool.connectionTimeoutMs,
        idleTimeoutMillis: options.pool.idleTimeoutMs,
      });
      const name = `replica-${index + 1}`;
      pool.on("error", (error) => options.logger.warn({ err: error, replica: name }, "idle replica connection failed"));
      pool.on("connect", (client) => {
        client.on("error", (error) =>
          options.logger.warn({ err: error, replica: name }, "replica connection lost during a request"),
        );
      });
      return {
        name,
        pool,
        state: "unknown",
        replayLsn: undefined,
        replayPaused: undefined,
        caughtUpTo: undefined,
        checkedAt: undefined,
        served: 0,
      } satisfies Replica;
    });
  }

  /** Measures once (so the first requests can already use the replicas), then every interval. */
  async start(): Promise<void> {
    await this.check();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.check().finally(() => this.schedule());
    }, this.checkIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Ends the replicas' pools (after stop()). */
  async end(): Promise<void> {
    await Promise.all(this.replicas.map((replica) => replica.pool.end()));
  }

  /**
   * A replica that may serve a query needing `requiredLsn` (a client's last write), chosen
   * round-robin among the usable ones; undefined means "use the primary".
   */
  choose(requiredLsn: Lsn | undefined): Replica | undefined {
    const count = this.replicas.length;
    for (let offset = 0; offset < count; offset++) {
      const replica = this.replicas[(this.next + offset) % count]!;
      if (!this.isUsable(replica)) continue;
      if (requiredLsn !== undefined && (replica.replayLsn === undefined || replica.replayLsn < requiredLsn)) continue;
      this.next = (this.next + offset + 1) % count;
      return replica;
    }
    return undefined;
  }

  /**
   * Usable: a replica that follows the primary and holds every commit made more than maxLag ago,
   * now (not as of its last check): so a write, a sign-out or a removed membership is seen by any
   * replica a query may use at most maxLag after it committed.
   */
  private isUsable(replica: Replica, now = Date.now()): boolean {
    return replica.state === "ok" && replica.caughtUpTo !== undefined && now - replica.caughtUpTo <= this.maxLagMs;
  }

  /** A request could not connect to the replica: skip it until the next check says otherwise. */
  markUnreachable(replica: Replica, error: unknown): void {
    if (replica.state !== "unreachable") {
      this.logger.warn({ err: error, replica: replica.name }, "read replica unreachable; queries go to the primary");
    }
    replica.state = "unreachable";
  }

  /** For /readyz and metrics (the metrics engineer: `replicaSet.replicaStatus()` on RunningServer/readiness). */
  replicaStatus(): ReplicaStatus[] {
    const now = Date.now();
    return this.replicas.map((replica) => ({
      name: replica.name,
      state: replica.state,
      usable: this.isUsable(replica, now),
      lagMs: replica.caughtUpTo === undefined ? null : now - replica.caughtUpTo,
      replayLsn: replica.replayLsn === undefined ? null : formatLsn(replica.replayLsn),
      replayPaused: replica.replayPaused ?? null,
      checkedAt: replica.checkedAt === undefined ? null : new Date(replica.checkedAt).toISOString(),
      served: replica.served,
      pool: { total: replica.pool.totalCount, idle: replica.pool.idleCount, waiting: replica.pool.waitingCount },
    }));
  }

  /** One measurement: the primary first, then the replicas (so a replica that keeps up reads as lag 0). */
  async check(): Promise<void> {
    const deadline = Math.max(this.checkIntervalMs * 5, 1_000);
    // Taken before asking: the position read includes every commit made before this moment, so
    // the lag derived from it errs on the long side.
    const sampledAt = Date.now();
    let primaryLsn: Lsn | undefined;
    try {
      const { rows } = await withTimeout(
        this.primaryPool.query<{ lsn: string; system: string }>(
          "select pg_catalog.pg_current_wal_lsn()::text as lsn, " +
            "(select system_identifier::text from pg_catalog.pg_control_system()) as system",
        ),
        deadline,
      );
      primaryLsn = parseLsn(rows[0]?.lsn);
      this.primarySystem = rows[0]?.system;
    } catch (error) {
      // Without the primary's position no lag can be bounded: replicas are not trusted meanwhile.
      this.logger.warn({ err: error }, "replica monitor: the primary's WAL position is unreadable");
    }
    if (primaryLsn !== undefined) {
      this.history.push({ at: sampledAt, lsn: primaryLsn });
      const horizon = sampledAt - this.maxLagMs * HISTORY_FACTOR;
      while (this.history.length > 2 && this.history[1]!.at < horizon) this.history.shift();
    }
    await Promise.all(this.replicas.map((replica) => this.checkReplica(replica, primaryLsn, deadline)));
  }

  private async checkReplica(replica: Replica, primaryLsn: Lsn | undefined, deadline: number): Promise<void> {
    const before = replica.state;
    let problem: unknown;
    try {
      const { rows } = await withTimeout(
        replica.pool.query<{ recovering: boolean; replay: string | null; paused: boolean; system: string }>(
          "select pg_catalog.pg_is_in_recovery() as recovering, pg_catalog.pg_last_wal_replay_lsn()::text as replay, " +
            "pg_catalog.pg_is_in_recovery() and pg_catalog.pg_is_wal_replay_paused() as paused, " +
            "(select system_identifier::text from pg_catalog.pg_control_system()) as system",
        ),
        deadline,
      );
      const row = rows[0]!;
      replica.replayLsn = parseLsn(row.replay);
      replica.replayPaused = row.paused;
      replica.checkedAt = Date.now();
      if (!row.recovering || (this.primarySystem !== undefined && row.system !== this.primarySystem)) {
        // A promoted replica, a primary listed by mistake, or a standby of another cluster (its
        // positions mean nothing here): it does not follow this primary.
        replica.state = "not_a_replica";
        replica.caughtUpTo = undefined;
      } else if (primaryLsn === undefined) {
        replica.state = "unknown";
      } else {
        replica.caughtUpTo = this.caughtUpTo(replica.replayLsn) ?? replica.caughtUpTo;
        const fresh = replica.caughtUpTo !== undefined && replica.checkedAt - replica.caughtUpTo <= this.maxLagMs;
        replica.state = fresh ? "ok" : "lagging";
      }
    } catch (error) {
      problem = error;
      replica.state = "unreachable";
    }
    if (replica.state !== before) {
      const lagMs = replica.caughtUpTo === undefined ? undefined : Date.now() - replica.caughtUpTo;
      const details = { replica: replica.name, state: replica.state, lagMs, err: problem };
      if (replica.state === "ok") this.logger.info(details, "read replica in use");
      else this.logger.warn(details, "read replica skipped; its queries go to the primary");
    }
  }

  /**
   * When the primary last stood at a position the replica has replayed: the newest sample it has
   * reached, or undefined when it is behind every remembered sample.
   */
  private caughtUpTo(replay: Lsn | undefined): number | undefined {
    if (replay === undefined) return undefined;
    for (let index = this.history.length - 1; index >= 0; index--) {
      const sample = this.history[index]!;
      if (replay >= sample.lsn) return sample.at;
    }
    return undefined;
  }
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
