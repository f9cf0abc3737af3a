// The outbox mailer against a real SMTP server: two mailers never send one message twice, the
// mail server being down delays mail but loses none, and a mailer killed between the hand-over and
// the record does not send the message again. The crash uses the standalone mailer
// (`node src/mail/mailer.ts`, the compose service) as a real process, killed with SIGKILL.
import { spawn } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, projectRoot, type MailConfig } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import { MailWorker, retryDelayMs } from "../src/mail/outbox-worker.ts";
import { createSmtpTransport } from "../src/mail/transport.ts";
import { freePort, startMailCatcher } from "./helpers/mail-catcher.ts";
import { createOwnDatabase, type OwnDatabase } from "./helpers/membership-database.ts";
import { serverEnvironment } from "./helpers/server-process.ts";

let own: OwnDatabase;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  own = await createOwnDatabase("mailer");
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  await own?.drop();
});

function mailConfig(smtpUrl: string, overrides: Partial<MailConfig> = {}): MailConfig & { smtpUrl: string } {
  const base = loadConfig({ NODE_ENV: "test", SMTP_URL: smtpUrl }, "mail").mail;
  return { ...base, smtpUrl, pollIntervalMs: 20, retryBaseMs: 100, retryMaxMs: 400, ...overrides };
}

function startWorker(smtpUrl: string, overrides: Partial<MailConfig> = {}, workerId?: string): MailWorker {
  const pool = new pg.Pool({ connectionString: own.database.urls.authenticatorUrl, max: 2 });
  pool.on("error", () => {});
  pools.push(pool);
  const config = mailConfig(smtpUrl, overrides);
  const worker = new MailWorker({
    pool,
    config,
    transport: createSmtpTransport(config, config.leaseMs),
    logger: createLogger("silent"),
    batchSize: 5,
    ...(workerId ? { workerId } : {}),
  });
  worker.start();
  return worker;
}

async function queue(recipients: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const recipient of recipients) {
    const { rows } = await own.owner.query<{ id: string }>(
      "select app_hidden.queue_mail('password_changed', $1, 'en', '{}', null, null) as id",
      [recipient],
    );
    ids.push(rows[0]!.id);
  }
  return ids;
}

async function outbox(ids: string[]) {
  const { rows } = await own.owner.query<{ id: string; status: string; attempts: number; last_error: string | null }>(
    "select id, status, attempts, last_error from app_private.mail_outbox where id = any($1) order by id",
    [ids],
  );
  return rows;
}

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const stamp = () => Math.random().toString(36).slice(2, 8);

describe("the mailer", () => {
  it("backs off exponentially up to the configured maximum", () => {
    const config = { retryBaseMs: 1_000, retryMaxMs: 60_000 };
    expect([1, 2, 3, 4, 7, 50].map((attempts) => retryDelayMs(attempts, config))).toEqual([
      1_000, 2_000, 4_000, 8_000, 60_000, 60_000,
    ]);
  });

  it("two mailers on one outbox never send one message twice, and send them all", async () => {
    const catcher = await startMailCatcher();
    const run = stamp();
    const recipients = Array.from({ length: 40 }, (_, i) => `pair-${run}-${i}@example.test`);
    const ids = await queue(recipients);
    const workers = [startWorker(catcher.url, {}, "mailer-a"), startWorker(catcher.url, {}, "mailer-b")];
    try {
      await until(async () => catcher.messages.filter((m) => m.to.startsWith(`pair-${run}-`)).length >= 40);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const arrived = catcher.messages.filter((m) => m.to.startsWith(`pair-${run}-`));
      expect(arrived).toHaveLength(40);
      expect(new Set(arrived.map((m) => m.messageId)).size).toBe(40);
      expect(new Set(arrived.map((m) => m.to))).toEqual(new Set(recipients));
      const rows = await outbox(ids);
      expect(rows.every((r) => r.status === "sent" && r.attempts === 1)).toBe(true);
      const { rows: byWorker } = await own.owner.query(
        "select locked_by, count(*)::int as n from app_private.mail_outbox where id = any($1) group by 1",
        [ids],
      );
      // Both took part (the claim is shared, not serialised behind one of them).
      expect(byWorker.length).toBe(2);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await catcher.close();
    }
  });

  it("the SMTP server being down delays mail but loses none", async () => {
    const port = await freePort();
    const run = stamp();
    const ids = await queue([1, 2, 3].map((i) => `down-${run}-${i}@example.test`));
    const worker = startWorker(`smtp://127.0.0.1:${port}`);
    let catcher: Awaited<ReturnType<typeof startMailCatcher>> | undefined;
    try {
      await until(async () => (await outbox(ids)).every((r) => r.attempts >= 2));
      const waiting = await outbox(ids);
      expect(
        waiting.every(
          (r) => ["pending", "sending"].includes(r.status) && /ECONNECTION|ECONNREFUSED/.test(r.last_error ?? ""),
        ),
      ).toBe(true);
      catcher = await startMailCatcher({ port });
      await until(async () => (await outbox(ids)).every((r) => r.status === "sent"));
      expect(catcher.messages.filter((m) => m.to.startsWith(`down-${run}-`))).toHaveLength(3);
    } finally {
      await worker.stop();
      await catcher?.close();
    }
  });

  it("a mailer killed between sending and recording does not send the message again", async () => {
    const run = stamp();
    const victim = `crash-${run}@example.test`;
    // eslint-disable-next-line prefer-const -- assigned after the catcher that kills it is set up
    let child: ReturnType<typeof spawn> | undefined;
    const catcher = await startMailCatcher({
      // The message has fully arrived; the mailer dies before it hears "250 OK" and records it.
      async beforeAccept(mail) {
        if (mail.to !== victim || child === undefined) return;
        const exited = new Promise((resolve) => child!.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      },
    });
    const [id] = await queue([victim]);
    child = spawn(process.execPath, [path.join(projectRoot, "src/mail/mailer.ts")], {
      cwd: projectRoot,
      env: serverEnvironment({
        NODE_ENV: "test",
        AUTH_DATABASE_URL: own.database.urls.authenticatorUrl,
        SMTP_URL: catcher.url,
        MAIL_POLL_INTERVAL_MS: "50",
        MAIL_LEASE_MS: "1000",
      }),
      stdio: "ignore",
    });
    const timer = setTimeout(() => child?.kill("SIGKILL"), 30_000);
    let replacement: MailWorker | undefined;
    try {
      await until(async () => child!.exitCode !== null || child!.signalCode !== null);
      expect(child.signalCode).toBe("SIGKILL");
      expect((await outbox([id!]))[0]).toMatchObject({ status: "sending", attempts: 1 });
      // Another mailer comes up; once the dead one's lease has run out, the message is uncertain, not resent.
      replacement = startWorker(catcher.url, { leaseMs: 1_000 });
      await until(async () => (await outbox([id!]))[0]!.status === "uncertain");
      const [after] = await queue([`after-${run}@example.test`]);
      await until(async () => (await outbox([after!]))[0]!.status === "sent");
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(catcher.messages.filter((m) => m.to === victim)).toHaveLength(1);
      expect((await outbox([id!]))[0]).toMatchObject({ status: "uncertain", attempts: 1 });
    } finally {
      clearTimeout(timer);
      child.kill("SIGKILL");
      await replacement?.stop();
      await catcher.close();
    }
  });
});
