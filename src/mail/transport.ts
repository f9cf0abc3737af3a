// Where rendered mail goes: an SMTP server through nodemailer (SMTP_URL), or, in development
// without one, a folder of kept messages (one JSON file each, read by `npm run mail:list`) and the log.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
import type { MailConfig } from "../config.ts";
import type { Logger } from "../logger.ts";

export interface OutgoingMail {
  /** The outbox row's id. */
  id: string;
  kind: string;
  messageId: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  link: string;
}

export interface MailTransport {
  /** Resolves once the mail server accepted the message; rejects with a MailSendError otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** A refused or failed hand-over; `permanent` when the server refused this message for good (retrying is useless). */
export class MailSendError extends Error {
  override name = "MailSendError";
  readonly permanent: boolean;

  constructor(message: string, permanent: boolean) {
    super(message);
    this.permanent = permanent;
  }
}

export function createSmtpTransport(config: MailConfig & { smtpUrl: string }, leaseMs: number): MailTransport {
  // Every wait is bounded well inside the lease: a send that outlives its lease is taken as
  // possibly delivered and never retried, so it must not happen for a mere slow server.
  const bound = Math.max(1_000, Math.floor(leaseMs / 4));
  const url = new URL(config.smtpUrl);
  const secure = url.protocol === "smtps:";
  const transporter = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    ...(url.username
      ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }
      : {}),
    // A plain smtp:// server on loopback (tests, a local relay) may offer no TLS at all.
    ignoreTLS: !secure && ["127.0.0.1", "localhost", "::1"].includes(url.hostname),
    connectionTimeout: bound,
    greetingTimeout: bound,
    socketTimeout: bound,
  });
  return {
    async send(mail) {
      try {
        await transporter.sendMail({
          from: config.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          messageId: mail.messageId,
          headers: { "X-ProspectFlow-Kind": mail.kind },
        });
      } catch (error) {
        const { code, responseCode, message } = error as { code?: string; responseCode?: number; message?: string };
        // Only a recipient refused with a 5xx reply is final; everything else (server down,
        // timeouts, 4xx, authentication) is retried with backoff until it works.
        const permanent = code === "EENVELOPE" && typeof responseCode === "number" && responseCode >= 500;
        throw new MailSendError(`${code ?? "error"}: ${message ?? String(error)}`, permanent);
      }
    },
    close() {
      transporter.close();
    },
  };
}

/** Development without SMTP_URL: each message is written to `directory` and logged, link included. */
export function createKeptTransport(config: MailConfig, logger: Logger): MailTransport {
  return {
    async send(mail) {
      await mkdir(config.keptDirectory, { recursive: true });
      const keptAt = new Date().toISOString();
      const file = path.join(config.keptDirectory, `${keptAt.replace(/[:.]/g, "-")}-${mail.id}.json`);
      await writeFile(file, JSON.stringify({ keptAt, from: config.from, ...mail }, null, 2) + "\n", { mode: 0o600 });
      logger.info(
        { mail: { to: mail.to, kind: mail.kind, subject: mail.subject, link: mail.link } },
        "mail kept, not sent (no SMTP_URL): npm run mail:list shows it",
      );
    },
    close() {},
  };
}
