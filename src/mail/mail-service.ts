// Chooses the mailer's transport from the configuration and starts the outbox worker: SMTP when
// SMTP_URL is set; in development without it, messages are kept in a folder and logged; in
// production without it, nothing is sent and the outbox keeps every message until SMTP_URL is set.
import type pg from "pg";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { MailWorker } from "./outbox-worker.ts";
import { createKeptTransport, createSmtpTransport } from "./transport.ts";

export function startMailWorker(config: Config, pool: pg.Pool, logger: Logger): MailWorker | undefined {
  const mail = config.mail;
  const mailLogger = logger.child({ component: "mailer" });
  if (mail.smtpUrl === undefined && config.isProduction) {
    mailLogger.warn("SMTP_URL is not set: no mail is sent; the outbox keeps every message until it is");
    return undefined;
  }
  const transport =
    mail.smtpUrl === undefined
      ? createKeptTransport(mail, mailLogger)
      : createSmtpTransport({ ...mail, smtpUrl: mail.smtpUrl }, mail.leaseMs);
  const worker = new MailWorker({ pool, config: mail, transport, logger: mailLogger });
  worker.start();
  return worker;
}
