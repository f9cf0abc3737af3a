// GET /t/<token>.gif: always the same 1×1 GIF with no-cache headers; a valid token's opens are
// counted exactly (also when concurrent) once per client network per minute; HEAD, unsent
// messages, unknown and malformed tokens are recorded nowhere; a flood of one token writes one
// row and never holds up other requests. Clients use distinct loopback addresses (127.0.0.x).
import { randomBytes } from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRANSPARENT_GIF } from "../src/http/tracking-pixel.ts";
import type { RunningServer } from "../src/server.ts";
import { createOrganisation, createPositions, memberSession, ownerPool } from "./helpers/database.ts";
import { startTestServer } from "./helpers/http-server.ts";

const owner = ownerPool();
let server: RunningServer;

afterAll(async () => {
  await server.close();
  await owner.end();
});

beforeAll(async () => {
  server = await startTestServer();
});

/** A sent message of a fresh organisation; returns its pixel token and ids. */
async function sentMessage(): Promise<{ token: string; messageId: string; campaignId: string }> {
  const org = await createOrganisation(owner, "pixel");
  const member = memberSession(owner, { organisationId: org.id, userId: org.users.member });
  const { rows: campaign } = await member.query(
    "insert into outreach.campaigns (name, status) values ('Pixel', 'active') returning id",
  );
  await member.query("insert into outreach.workflow_steps (campaign_id, step_index) values ($1, 0)", [campaign[0]!.id]);
  const [position] = await createPositions(owner, org.id, 1);
  await member.query("insert into outreach.campaign_enrollments (campaign_id, position_id) values ($1, $2)", [
    campaign[0]!.id,
    position,
  ]);
  const { rows: tasks } = await member.query("select id from outreach.claim_due_tasks(1, 'w')");
  const { rows: message } = await member.query(
    "insert into outreach.messages (task_id, status) values ($1, 'sent') returning id",
    [tasks[0]!.id],
  );
  const { rows: pixel } = await owner.query("select token from tracking.pixels where message_id = $1", [
    message[0]!.id,
  ]);
  return { token: pixel[0].token, messageId: message[0]!.id, campaignId: campaign[0]!.id };
}

interface PixelResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request from a given loopback address (the server sees it as the client's address). */
function request(path: string, options: { method?: string; userAgent?: string; from?: string } = {}) {
  const url = new URL(path, server.url);
  return new Promise<PixelResponse>((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: url.port,
        path: url.pathname,
        method: options.method ?? "GET",
        localAddress: options.from ?? "127.0.0.1",
        headers: { "user-agent": options.userAgent ?? "Mail/1.0" },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const open = (token: string, userAgent = "Mail/1.0", from = "127.0.0.1") =>
  request(`/t/${token}.gif`, { userAgent, from });

/** Makes the de-duplication window of every opener of this message run out (as if a minute had passed). */
async function windowPasses(messageId: string) {
  await owner.query(
    `update app_private.pixel_openers o set last_counted_at = last_counted_at - interval '61 seconds'
       from tracking.pixels p where p.organisation_id = o.organisation_id and p.id = o.pixel_id and p.message_id = $1`,
    [messageId],
  );
}

async function eventsOf(messageId: string): Promise<number> {
  const { rows } = await owner.query("select count(*)::int as n from tracking.open_events where message_id = $1", [
    messageId,
  ]);
  return rows[0].n;
}

async function openStats(messageId: string) {
  const { rows } = await owner.query(
    "select total_opens::int, unique_opens::int from tracking.message_open_stats where message_id = $1",
    [messageId],
  );
  return rows[0] ?? { total_opens: 0, unique_opens: 0 };
}

async function allOpenEvents(): Promise<number> {
  const { rows } = await owner.query("select count(*)::int as n from tracking.open_events");
  return rows[0].n;
}

describe("a valid token", () => {
  it("answers a 1×1 GIF with no-cache headers and records the open", async () => {
    const { token, messageId, campaignId } = await sentMessage();
    const { status, headers, body } = await open(token);
    expect(status).toBe(200);
    expect(headers["content-type"]).toBe("image/gif");
    expect(headers["cache-control"]).toContain("no-store");
    expect(headers["cache-control"]).toContain("no-cache");
    expect(body.equals(TRANSPARENT_GIF)).toBe(true);
    expect(body.subarray(0, 6).toString()).toBe("GIF89a");
    expect(await openStats(messageId)).toEqual({ total_opens: 1, unique_opens: 1 });
    const { rows } = await owner.query(
      "select user_agent, host(ip_address) as ip from tracking.open_events where message_id = $1",
      [messageId],
    );
    expect(rows).toEqual([{ user_agent: "Mail/1.0", ip: "127.0.0.1" }]);
    const { rows: daily } = await owner.query(
      "select emails_sent::int, emails_opened::int from tracking.campaign_daily_stats where campaign_id = $1",
      [campaignId],
    );
    expect(daily).toEqual([{ emails_sent: 1, emails_opened: 1 }]);
  });

  it("counts repeated opens in total and distinct openers in unique opens", async () => {
    const { token, messageId, campaignId } = await sentMessage();
    await open(token, "Mail/1.0", "127.0.0.2");
    await open(token, "Outlook/16", "127.0.0.3");
    await windowPasses(messageId);
    // The same opener again, a minute later: one more open, no new opener.
    await open(token, "Mail/1.0", "127.0.0.2");
    expect(await openStats(messageId)).toEqual({ total_opens: 3, unique_opens: 2 });
    expect(await eventsOf(messageId)).toBe(3);
    // The campaign counts the message as opened once.
    const { rows } = await owner.query(
      "select emails_opened::int from tracking.campaign_daily_stats where campaign_id = $1",
      [campaignId],
    );
    expect(rows).toEqual([{ emails_opened: 1 }]);
  });

  it("counts every one of many concurrent opens of distinct openers, exactly", async () => {
    const { token, messageId } = await sentMessage();
    const opens = 60;
    const responses = await Promise.all(
      Array.from({ length: opens }, (_, i) => open(token, `Client/${i % 5}`, `127.0.0.${10 + i}`)),
    );
    expect(responses.every(({ status }) => status === 200)).toBe(true);
    expect(await openStats(messageId)).toEqual({ total_opens: opens, unique_opens: opens });
    expect(await eventsOf(messageId)).toBe(opens);
  });
});

describe("unknown and malformed tokens", () => {
  it.each([
    ["an unknown well-formed token", () => randomBytes(24).toString("base64url")],
    ["a too short token", () => "abc"],
    ["a token with forbidden characters", () => `${"a".repeat(30)}%27;`],
    ["a very long token", () => "a".repeat(5000)],
  ])("%s gets the same GIF and is recorded nowhere", async (_label, makeToken) => {
    const { token: validToken } = await sentMessage();
    const valid = await open(validToken);
    const before = await allOpenEvents();
    const response = await open(makeToken());
    expect(response.status).toBe(200);
    expect(response.body.equals(valid.body)).toBe(true);
    // Same headers as a valid token's response: nothing tells the two apart.
    const headerNames = (r: PixelResponse) =>
      Object.keys(r.headers)
        .filter((h) => h !== "date")
        .sort();
    expect(headerNames(response)).toEqual(headerNames(valid));
    expect(await allOpenEvents()).toBe(before);
  });
});

describe("pixel abuse", () => {
  it("repeated hits from one client within a minute count once, whatever the User-Agent", async () => {
    const { token, messageId } = await sentMessage();
    for (let i = 0; i < 20; i++) await open(token, `Spoofed/${i}`, "127.0.0.7");
    expect(await openStats(messageId)).toEqual({ total_opens: 1, unique_opens: 1 });
    expect(await eventsOf(messageId)).toBe(1);
    // Beside it, another client's open still counts.
    await open(token, "Mail/1.0", "127.0.0.8");
    expect(await openStats(messageId)).toEqual({ total_opens: 2, unique_opens: 2 });
  });

  it("HEAD and other methods record nothing; the GET beside them does", async () => {
    const { token, messageId } = await sentMessage();
    const head = await request(`/t/${token}.gif`, { method: "HEAD", from: "127.0.0.20" });
    expect(head.status).toBe(200);
    expect(head.headers["content-type"]).toBe("image/gif");
    const post = await request(`/t/${token}.gif`, { method: "POST", from: "127.0.0.21" });
    expect(post.status).toBe(404);
    expect(await openStats(messageId)).toEqual({ total_opens: 0, unique_opens: 0 });
    await open(token, "Mail/1.0", "127.0.0.22");
    expect(await openStats(messageId)).toEqual({ total_opens: 1, unique_opens: 1 });
  });

  it("a message that is not sent (draft, failed) records no opens; sent again, it does", async () => {
    const { token, messageId } = await sentMessage();
    for (const status of ["draft", "failed", "bounced"]) {
      await owner.query("update outreach.messages set status = $2 where id = $1", [messageId, status]);
      await open(token, "Mail/1.0", "127.0.0.30");
      expect(await openStats(messageId), status).toEqual({ total_opens: 0, unique_opens: 0 });
    }
    await owner.query("update outreach.messages set status = 'sent' where id = $1", [messageId]);
    await open(token, "Mail/1.0", "127.0.0.30");
    expect(await openStats(messageId)).toEqual({ total_opens: 1, unique_opens: 1 });
  });

  it("keeps at most 100 events per token per hour; the figures still count every opener", async () => {
    const { token, messageId } = await sentMessage();
    const addresses = Array.from({ length: 110 }, (_, i) => `127.0.1.${i + 1}`);
    for (let i = 0; i < addresses.length; i += 10) {
      await Promise.all(addresses.slice(i, i + 10).map((from) => open(token, "Mail/1.0", from)));
    }
    expect(await openStats(messageId)).toEqual({ total_opens: 110, unique_opens: 110 });
    expect(await eventsOf(messageId)).toBe(100);
    // An hour later events are kept again.
    await owner.query(
      "update tracking.open_events set opened_at = opened_at - interval '1 hour' where message_id = $1",
      [messageId],
    );
    await windowPasses(messageId);
    await open(token, "Mail/1.0", "127.0.1.1");
    expect(await eventsOf(messageId)).toBe(101);
    expect(await openStats(messageId)).toEqual({ total_opens: 111, unique_opens: 110 });
  });

  it("a flood of one token writes one row and does not hold up other requests", async () => {
    const flooded = await sentMessage();
    const other = await sentMessage();
    let flooding = true;
    const flood = (async () => {
      let sent = 0;
      while (flooding && sent < 3000) {
        await Promise.all(Array.from({ length: 30 }, (_, i) => open(flooded.token, `Bot/${sent + i}`, "127.0.0.99")));
        sent += 30;
      }
      return sent;
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    const [otherOpen, health] = await Promise.all([
      open(other.token, "Mail/1.0", "127.0.0.98"),
      fetch(`${server.url}/healthz`),
    ]);
    const elapsed = Date.now() - started;
    flooding = false;
    const sent = await flood;
    expect(otherOpen.status).toBe(200);
    expect(health.status).toBe(200);
    expect(elapsed).toBeLessThan(5_000);
    expect(sent).toBeGreaterThan(30);
    expect(await openStats(flooded.messageId)).toEqual({ total_opens: 1, unique_opens: 1 });
    expect(await eventsOf(flooded.messageId)).toBe(1);
    expect(await openStats(other.messageId)).toEqual({ total_opens: 1, unique_opens: 1 });
  });

  it("the pixel's transaction has a statement timeout", async () => {
    const { token, messageId } = await sentMessage();
    // Hold the message's figures row: the open waits for it, then gives up at the pixel's timeout.
    const client = await owner.connect();
    try {
      await open(token, "Mail/1.0", "127.0.0.40");
      await windowPasses(messageId);
      await client.query("begin");
      await client.query("select 1 from tracking.message_open_stats where message_id = $1 for update", [messageId]);
      const started = Date.now();
      const response = await open(token, "Mail/1.0", "127.0.0.40");
      expect(response.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(5_000);
      await client.query("commit");
    } finally {
      client.release();
    }
    expect(await openStats(messageId)).toEqual({ total_opens: 1, unique_opens: 1 });
    await open(token, "Mail/1.0", "127.0.0.41");
    expect(await openStats(messageId)).toEqual({ total_opens: 2, unique_opens: 2 });
  });
});
