// The mailer's loop: claim due messages from the outbox (app_hidden.claim_mail: SKIP LOCKED, under
// a lease), render each, hand it to the transport, record the outcome. Runs inside the server by
// default, or alone (src/mail/mailer.ts); any number may run against one database.
//
// Never twice: a message is claimed by one mailer at a time; the same Message-ID goes with every
// attempt; a failure the transport reports (server down, refused, timed out) is retried with
// backoff; a mailer that dies between the hand-over and the record leaves its lease to run out,
// and the message becomes `uncertain` instead of being sent again.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { MailConfig } from "../config.ts";
import { VISITOR_ROLE } from "../db/roles.ts";
import type { Logger } from "../logger.ts";
import { linkFor, renderMail, type Locale, type MailKind } from "./templates.ts";
import { MailSendError, type MailTransport } from "./transport.ts";

interface ClaimedMail {
  id: string;
  kind: MailKind;
  recipient: string;
  locale: Locale;
  params: Record<string, unknown>;
  message_id: string;
  attempts: number;
  token: string | null;
}

export interface MailWorkerOptions {
  /** A pool of the serving role (the authenticator); the worker switches to the visitor role per transaction. */
  pool: pg.Pool;
  config: MailConfig;
  transport: MailTransport;
  logger: Logger;
  workerId?: string;
  batchSize?: number;
}

/** The wait before the next attempt after `attempts` failed ones: doubling from retryBaseMs, at most retryMaxMs. */
export function retryDelayMs(attempts: number, config: Pick<MailConfig, "retryBaseMs" | "retryMaxMs">): number {
  return Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
}

export class MailWorker {
  readonly workerId: string;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  private readonly options: MailWorkerOptions;

  constructor(options: MailWorkerOptions) {
    this.options = options;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops claiming; a message being sent is finished and recorded first. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.options.transport.close();
  }

  private async run(): Promise<void> {
    const { logger, config } = this.options;
    logger.info({ workerId: this.workerId }, "mailer started");
    while (!this.stopped) {
      let handled = 0;
      try {
        handled = await this.runOnce();
      } catch (error) {
        logger.warn({ err: error, workerId: this.workerId }, "mailer could not reach the outbox; trying again");
      }
      // stop() may have been called while runOnce was awaited.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (this.stopped) break;
      if (handled < (this.options.batchSize ?? 10)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.pollIntervalMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** One round: claims what is due, sends it, records each outcome. Returns how many messages it held. */
  async runOnce(): Promise<number> {
    const claimed = await this.inTransaction((client) =>
      client.query<ClaimedMail>("select * from app_hidden.claim_mail($1, $2, $3)", [
        this.workerId,
        this.options.batchSize ?? 10,
        Math.ceil(this.options.config.leaseMs / 1000),
      ]),
    );
    for (const mail of claimed.rows) await this.deliver(mail);
    return claimed.rows.length;
  }

  private async deliver(mail: ClaimedMail): Promise<void> {
    const { config, transport, logger } = this.options;
    const link = linkFor(mail.kind, config.publicUrl, mail.token, mail.params);
    const rendered = renderMail(mail.kind, mail.locale, mail.params, link);
    try {
      await transport.send({
        id: mail.id,
        kind: mail.kind,
        messageId: mail.message_id,
        to: mail.recipient,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        link,
      });
    } catch (error) {
      const permanent = error instanceof MailSendError && error.permanent;
      const delay = retryDelayMs(mail.attempts, config);
      await this.inTransaction((client) =>
        client.query("select app_hidden.mail_failed($1, $2, $3, $4, $5)", [
          mail.id,
          this.workerId,
          error instanceof Error ? error.message : String(error),
          permanent,
          delay,
        ]),
      );
      logger.warn(
        { mailId: mail.id, kind: mail.kind, attempts: mail.attempts, permanent, retryInMs: permanent ? null : delay },
        permanent ? "mail refused for good" : "mail not sent; will retry",
      );
      return;
    }
    await this.inTransaction((client) => client.query("select app_hidden.mail_sent($1, $2)", [mail.id, this.workerId]));
    logger.info({ mailId: mail.id, kind: mail.kind, messageId: mail.message_id }, "mail sent");
  }

  private async inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.options.pool.connect();
    try {
      await client.query("begin");
      await client.query("select set_config('role', $1, true), set_config('statement_timeout', '10s', true)", [
        VISITOR_ROLE,
      ]);
      const result = await work(client);
      await client.query("commit");
      return result;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
}
