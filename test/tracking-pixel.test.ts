// GET /t/<token>.gif: always the same 1×1 GIF with no-cache headers; a valid token's opens are
// counted exactly (also when concurrent); unknown and malformed tokens are recorded nowhere.
import { randomBytes } from "node:crypto";
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

async function open(token: string, userAgent = "Mail/1.0") {
  const response = await fetch(`${server.url}/t/${token}.gif`, { headers: { "user-agent": userAgent } });
  return { response, body: Buffer.from(await response.arrayBuffer()) };
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
    const { response, body } = await open(token);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/gif");
    expect(response.headers.get("cache-control")).toContain("no-store");
    expect(response.headers.get("cache-control")).toContain("no-cache");
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
    await open(token, "Mail/1.0");
    await open(token, "Mail/1.0");
    await open(token, "Outlook/16");
    expect(await openStats(messageId)).toEqual({ total_opens: 3, unique_opens: 2 });
    // The campaign counts the message as opened once.
    const { rows } = await owner.query(
      "select emails_opened::int from tracking.campaign_daily_stats where campaign_id = $1",
      [campaignId],
    );
    expect(rows).toEqual([{ emails_opened: 1 }]);
  });

  it("counts every one of many concurrent opens, exactly", async () => {
    const { token, messageId } = await sentMessage();
    const opens = 60;
    const responses = await Promise.all(Array.from({ length: opens }, (_, i) => open(token, `Client/${i % 5}`)));
    expect(responses.every(({ response }) => response.status === 200)).toBe(true);
    expect(await openStats(messageId)).toEqual({ total_opens: opens, unique_opens: 5 });
    const { rows } = await owner.query("select count(*)::int as n from tracking.open_events where message_id = $1", [
      messageId,
    ]);
    expect(rows[0].n).toBe(opens);
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
    const { response, body } = await open(makeToken());
    expect(response.status).toBe(200);
    expect(body.equals(valid.body)).toBe(true);
    // Same headers as a valid token's response: nothing tells the two apart.
    const headerNames = (r: Response) => [...r.headers.keys()].filter((h) => h !== "date").sort();
    expect(headerNames(response)).toEqual(headerNames(valid.response));
    expect(await allOpenEvents()).toBe(before);
  });
});
