// The outreach behaviour the database guarantees to every client: enrolment schedules the first
// step, A/B assignment is weighted, deterministic and permanent, the task queue hands each task
// to one worker and moves tasks only along allowed transitions, sends get pixels, replies stop
// sequences, prompt versions have one active version, and dashboard figures add up.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VISITOR_ROLE } from "../src/db/roles.ts";
import {
  createOrganisation,
  createPositions,
  memberSession,
  ownerPool,
  sqlstateOf,
  type MemberSession,
  type TestOrganisation,
} from "./helpers/database.ts";

const owner = ownerPool();
let org: TestOrganisation;
let member: MemberSession;

afterAll(async () => {
  await owner.end();
});

beforeAll(async () => {
  org = await createOrganisation(owner, "outreach");
  member = memberSession(owner, { organisationId: org.id, userId: org.users.member });
});

/** Each test that claims tasks owns its organisation, so no other test's due tasks get in the way. */
async function freshMember(label: string): Promise<{ org: TestOrganisation; member: MemberSession }> {
  const org = await createOrganisation(owner, label);
  return { org, member: memberSession(owner, { organisationId: org.id, userId: org.users.member }) };
}

interface Campaign {
  id: string;
  steps: Array<{ id: string; step_index: number; delay_days: number }>;
}

/** An active campaign with the given steps (index, delay, exit on reply, active). */
async function createCampaign(
  session: MemberSession,
  steps: Array<{ index: number; delayDays: number; exitOnReply?: boolean; active?: boolean }>,
  status = "active",
): Promise<Campaign> {
  const { rows } = await session.query(
    "insert into outreach.campaigns (name, status) values ('Campaign', $1) returning id",
    [status],
  );
  const campaign: Campaign = { id: rows[0]!.id, steps: [] };
  for (const step of steps) {
    const { rows: inserted } = await session.query(
      `insert into outreach.workflow_steps (campaign_id, step_index, delay_days, exit_on_reply, is_active)
       values ($1, $2, $3, $4, $5) returning id, step_index, delay_days`,
      [campaign.id, step.index, step.delayDays, step.exitOnReply ?? true, step.active ?? true],
    );
    campaign.steps.push(inserted[0] as Campaign["steps"][number]);
  }
  return campaign;
}

async function enrol(session: MemberSession, campaignId: string, positionIds: string[]): Promise<string[]> {
  const { rows } = await session.query(
    "insert into outreach.campaign_enrollments (campaign_id, position_id) select $1, unnest($2::uuid[]) returning id",
    [campaignId, positionIds],
  );
  return rows.map((r) => r.id);
}

describe("enrolment", () => {
  it("starts active and schedules a task for the first active step at enrolled_at + delay_days", async () => {
    const campaign = await createCampaign(member, [
      { index: 0, delayDays: 2, active: false },
      { index: 1, delayDays: 3 },
      { index: 2, delayDays: 5 },
    ]);
    const [position] = await createPositions(owner, org.id, 1);
    const [enrollment] = await enrol(member, campaign.id, [position!]);
    const { rows } = await member.query(
      `select e.state, t.workflow_step_id, t.status, t.scheduled_for - e.enrolled_at as delay
         from outreach.campaign_enrollments e join outreach.tasks t on t.enrollment_id = e.id where e.id = $1`,
      [enrollment],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: "active", workflow_step_id: campaign.steps[1]!.id, status: "queued" });
    expect(rows[0]!.delay).toEqual({ days: 3 });
  });

  it("is unique per campaign and position", async () => {
    const campaign = await createCampaign(member, [{ index: 0, delayDays: 0 }]);
    const [position] = await createPositions(owner, org.id, 1);
    await enrol(member, campaign.id, [position!]);
    expect(await sqlstateOf(enrol(member, campaign.id, [position!]))).toBe("23505");
  });

  it("refuses a position of another organisation", async () => {
    const other = await createOrganisation(owner, "outreach-other");
    const [foreignPosition] = await createPositions(owner, other.id, 1);
    const campaign = await createCampaign(member, [{ index: 0, delayDays: 0 }]);
    expect(await sqlstateOf(enrol(member, campaign.id, [foreignPosition!]))).toBe("23503");
  });

  it("refuses a step index that already exists, a weight of zero and an unknown status", async () => {
    const campaign = await createCampaign(member, [{ index: 0, delayDays: 0 }]);
    expect(
      await sqlstateOf(
        member.query("insert into outreach.workflow_steps (campaign_id, step_index) values ($1, 0)", [campaign.id]),
      ),
    ).toBe("23505");
    const { rows } = await member.query(
      "insert into outreach.step_experiments (workflow_step_id, name) values ($1, 'x') returning id",
      [campaign.steps[0]!.id],
    );
    expect(
      await sqlstateOf(
        member.query(
          "insert into outreach.step_experiment_variants (step_experiment_id, key, weight) values ($1, 'A', 0)",
          [rows[0]!.id],
        ),
      ),
    ).toBe("23514");
    // An unknown status breaks the foreign key to its enumeration's lookup table (campaigns_status_valid).
    expect(
      await sqlstateOf(member.query("update outreach.campaigns set status = 'running' where id = $1", [campaign.id])),
    ).toBe("23503");
  });
});

describe("A/B assignment", () => {
  /** The documented rule, computed independently: md5(enrolment:experiment) picks a point in the weights. */
  function expectedVariant(
    enrollmentId: string,
    experimentId: string,
    variants: Array<{ id: string; key: string; weight: number }>,
  ) {
    const sorted = [...variants].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
    const total = sorted.reduce((sum, v) => sum + v.weight, 0);
    const point =
      parseInt(createHash("md5").update(`${enrollmentId}:${experimentId}`).digest("hex").slice(0, 8), 16) % total;
    let upper = 0;
    for (const variant of sorted) {
      upper += variant.weight;
      if (point < upper) return variant.id;
    }
    throw new Error("unreachable");
  }

  it("gives each enrolment reaching the step one variant, by weight, deterministically, never changed", async () => {
    const campaign = await createCampaign(member, [
      { index: 0, delayDays: 0 },
      { index: 1, delayDays: 1 },
    ]);
    const { rows: experiments } = await member.query(
      "insert into outreach.step_experiments (workflow_step_id, name, status) values ($1, 'Subject test', 'running') returning id",
      [campaign.steps[0]!.id],
    );
    const experimentId = experiments[0]!.id as string;
    const { rows: variants } = await member.query(
      `insert into outreach.step_experiment_variants (step_experiment_id, key, weight)
       values ($1, 'A', 1), ($1, 'B', 3) returning id, key, weight`,
      [experimentId],
    );
    const positions = await createPositions(owner, org.id, 200);
    const enrollments = await enrol(member, campaign.id, positions);
    const { rows: assignments } = await member.query(
      `select enrollment_id, variant_id, step_experiment_id, workflow_step_id
         from outreach.enrollment_step_variant_assignments where step_experiment_id = $1`,
      [experimentId],
    );
    expect(assignments).toHaveLength(200);
    expect(new Set(assignments.map((a) => a.enrollment_id))).toEqual(new Set(enrollments));
    for (const assignment of assignments) {
      expect(assignment.variant_id).toBe(expectedVariant(assignment.enrollment_id, experimentId, variants as never));
      expect(assignment.workflow_step_id).toBe(campaign.steps[0]!.id);
    }
    const shareOfA = assignments.filter((a) => a.variant_id === variants.find((v) => v.key === "A")!.id).length / 200;
    expect(shareOfA).toBeGreaterThan(0.12);
    expect(shareOfA).toBeLessThan(0.38);

    // Never changed: not by the visitor (no privilege), not even by the owner (trigger).
    const one = assignments[0]!;
    const otherVariant = variants.find((v) => v.id !== one.variant_id)!.id;
    expect(
      await sqlstateOf(
        member.query(
          "update outreach.enrollment_step_variant_assignments set variant_id = $1 where enrollment_id = $2",
          [otherVariant, one.enrollment_id],
        ),
      ),
    ).toBe("42501");
    expect(
      await sqlstateOf(
        owner.query(
          "update outreach.enrollment_step_variant_assignments set variant_id = $1 where enrollment_id = $2",
          [otherVariant, one.enrollment_id],
        ),
      ),
    ).toBe("PT010");

    // The variant's figures count the assignments.
    const { rows: figures } = await member.query(
      "select v.key, (outreach.step_experiment_variants_performance(v)).enrolled from outreach.step_experiment_variants v where v.step_experiment_id = $1 order by v.key",
      [experimentId],
    );
    const countOf = (key: string) =>
      assignments.filter((a) => a.variant_id === variants.find((v) => v.key === key)!.id).length;
    expect(figures.map((f) => [f.key, Number(f.enrolled)])).toEqual([
      ["A", countOf("A")],
      ["B", countOf("B")],
    ]);
  });
});

describe("task queue", () => {
  it("two workers claiming at once never get the same task", async () => {
    const { org, member } = await freshMember("queue");
    const campaign = await createCampaign(member, [{ index: 0, delayDays: 0 }]);
    await enrol(member, campaign.id, await createPositions(owner, org.id, 50));
    const ids = await Promise.all(
      ["worker-1", "worker-2"].map(async (worker) => {
        const client = await owner.connect();
        try {
          await client.query("begin");
          await client.query(
            "select set_config('role', $1, true), set_config('app.organisation_id', $2, true), set_config('app.user_id', $3, true)",
            [VISITOR_ROLE, org.id, org.users.member],
          );
          const { rows } = await client.query(
            `select t.id, t.locked_by, t.attempts from outreach.claim_due_tasks(30, $1) t
               join outreach.campaign_enrollments e on e.id = t.enrollment_id where e.campaign_id = $2`,
            [worker, campaign.id],
          );
          // Hold the claim open a moment so that the two transactions overlap.
          await client.query("select pg_sleep(0.2)");
          await client.query("commit");
          for (const row of rows) expect(row).toMatchObject({ locked_by: worker, attempts: 1 });
          return rows.map((r) => r.id as string);
        } finally {
          client.release();
        }
      }),
    );
    const [first, second] = ids as [string[], string[]];
    expect(first.length).toBeGreaterThan(0);
    expect(first.filter((id) => second.includes(id))).toEqual([]);
    expect(first.length + second.length).toBe(50);
    expect(Math.max(first.length, second.length)).toBe(30);
  });

  it("completing a task queues the next step; failing retries with backoff until max attempts", async () => {
    const { org, member } = await freshMember("queue");
    const campaign = await createCampaign(member, [
      { index: 0, delayDays: 0 },
      { index: 5, delayDays: 2 },
    ]);
    const [enrollment] = await enrol(member, campaign.id, await createPositions(owner, org.id, 1));
    const claim = async () =>
      (await member.query("select * from outreach.claim_due_tasks(10, 'w') t where t.enrollment_id = $1", [enrollment]))
        .rows;
    const [task] = await claim();
    const completed = (await member.query("select * from outreach.complete_task($1)", [task!.id])).rows[0];
    expect(completed).toMatchObject({ status: "completed", locked_by: null });
    const { rows: next } = await member.query(
      "select status, workflow_step_id, scheduled_for - now() as delay from outreach.tasks where enrollment_id = $1 and status = 'queued'",
      [enrollment],
    );
    expect(next).toHaveLength(1);
    expect(next[0]!.workflow_step_id).toBe(campaign.steps[1]!.id);
    expect(next[0]!.delay.days).toBe(1); // 2 days minus the milliseconds since: 1 day 23:59:59.9…

    // Make it due, and allow two attempts.
    await owner.query(
      "update outreach.tasks set scheduled_for = now() - interval '1 second', max_attempts = 2 where enrollment_id = $1 and status = 'queued'",
      [enrollment],
    );
    const [second] = await claim();
    const retried = (
      await member.query("select *, scheduled_for - now() as wait from outreach.fail_task($1, 'SMTP 421')", [
        second!.id,
      ])
    ).rows[0];
    expect(retried).toMatchObject({ status: "queued", attempts: 1, last_error: "SMTP 421", locked_by: null });
    expect(retried!.wait.minutes ?? 0).toBeGreaterThanOrEqual(1); // 2 minutes of backoff
    await owner.query("update outreach.tasks set scheduled_for = now() - interval '1 second' where id = $1", [
      second!.id,
    ]);
    const [again] = await claim();
    expect(again!.attempts).toBe(2);
    const failed = (await member.query("select * from outreach.fail_task($1, 'SMTP 550')", [again!.id])).rows[0];
    expect(failed).toMatchObject({ status: "failed", attempts: 2, last_error: "SMTP 550" });

    // Transitions that are not allowed.
    expect(await sqlstateOf(member.query("select outreach.complete_task($1)", [failed!.id]))).toBe("PT010");
    expect(await sqlstateOf(member.query("select outreach.complete_task($1)", [task!.id]))).toBe("PT010");
  });

  it("a viewer cannot claim tasks, and tasks are not writable directly", async () => {
    const viewer = memberSession(owner, { organisationId: org.id, userId: org.users.viewer });
    expect(await sqlstateOf(viewer.query("select outreach.claim_due_tasks(1, 'w')"))).toBe("PT004");
    expect(await sqlstateOf(member.query("update outreach.tasks set status = 'completed'"))).toBe("42501");
  });
});

describe("messages, replies and figures", () => {
  it("a sent message records its provenance and gets an unguessable pixel; a reply stops the sequence", async () => {
    const { org, member } = await freshMember("queue");
    const campaign = await createCampaign(member, [
      { index: 0, delayDays: 0, exitOnReply: true },
      { index: 1, delayDays: 3 },
    ]);
    const { rows: experiments } = await member.query(
      "insert into outreach.step_experiments (workflow_step_id, name, status) values ($1, 'x', 'running') returning id",
      [campaign.steps[0]!.id],
    );
    await member.query(
      "insert into outreach.step_experiment_variants (step_experiment_id, key) values ($1, 'A'), ($1, 'B')",
      [experiments[0]!.id],
    );
    const [position] = await createPositions(owner, org.id, 1);
    const [enrollment] = await enrol(member, campaign.id, [position!]);
    const [task] = (
      await member.query("select * from outreach.claim_due_tasks(10, 'w') t where t.enrollment_id = $1", [enrollment])
    ).rows;
    const { rows: sent } = await member.query(
      `insert into outreach.messages (task_id, status, provider_thread_id, rfc822_message_id, subject)
       values ($1, 'sent', 'thread-1', '<m1@prospectflow.test>', 'Hello') returning *`,
      [task!.id],
    );
    const { rows: assignment } = await member.query(
      "select * from outreach.enrollment_step_variant_assignments where enrollment_id = $1",
      [enrollment],
    );
    expect(sent[0]).toMatchObject({
      enrollment_id: enrollment,
      campaign_id: campaign.id,
      position_id: position,
      step_experiment_id: experiments[0]!.id,
      variant_id: assignment[0]!.variant_id,
    });
    expect(sent[0]!.sent_at).not.toBeNull();
    const { rows: pixels } = await member.query(
      "select token from outreach.messages m join tracking.pixels p on p.message_id = m.id where m.id = $1",
      [sent[0]!.id],
    );
    expect(pixels).toHaveLength(1);
    expect(pixels[0]!.token).toMatch(/^[A-Za-z0-9_-]{32}$/);

    await member.query("select outreach.complete_task($1)", [task!.id]);
    const queued = async () =>
      (
        await member.query(
          "select count(*)::int as n from outreach.tasks where enrollment_id = $1 and status = 'queued'",
          [enrollment],
        )
      ).rows[0]!.n;
    expect(await queued()).toBe(1);
    const { rows: reply } = await member.query(
      `insert into outreach.messages (direction, status, provider_thread_id, in_reply_to, body_text)
       values ('inbound', 'received', 'thread-1', '<m1@prospectflow.test>', 'Interested!') returning enrollment_id, campaign_id, position_id`,
    );
    expect(reply[0]).toEqual({ enrollment_id: enrollment, campaign_id: campaign.id, position_id: position });
    const { rows: state } = await member.query(
      "select state, stopped_reason from outreach.campaign_enrollments where id = $1",
      [enrollment],
    );
    expect(state[0]).toEqual({ state: "replied", stopped_reason: "replied" });
    expect(await queued()).toBe(0);
  });

  it("a reply to a step without exit_on_reply leaves the sequence running", async () => {
    const { org, member } = await freshMember("queue");
    const campaign = await createCampaign(member, [
      { index: 0, delayDays: 0, exitOnReply: false },
      { index: 1, delayDays: 3 },
    ]);
    const [enrollment] = await enrol(member, campaign.id, await createPositions(owner, org.id, 1));
    const [task] = (
      await member.query("select * from outreach.claim_due_tasks(10, 'w') t where t.enrollment_id = $1", [enrollment])
    ).rows;
    await member.query(
      "insert into outreach.messages (task_id, status, provider_thread_id) values ($1, 'sent', 'thread-keep')",
      [task!.id],
    );
    await member.query("select outreach.complete_task($1)", [task!.id]);
    await member.query(
      "insert into outreach.messages (direction, status, provider_thread_id) values ('inbound', 'received', 'thread-keep')",
    );
    const { rows } = await member.query(
      "select e.state, count(t.*) filter (where t.status = 'queued')::int as queued from outreach.campaign_enrollments e join outreach.tasks t on t.enrollment_id = e.id where e.id = $1 group by e.state",
      [enrollment],
    );
    expect(rows[0]).toEqual({ state: "active", queued: 1 });
  });

  it("campaign and variant figures equal the counts computed from the rows themselves, per organisation", async () => {
    const { org, member } = await freshMember("queue");
    const otherOrg = await createOrganisation(owner, "outreach-figures-b");
    const other = memberSession(owner, { organisationId: otherOrg.id, userId: otherOrg.users.member });
    const campaign = await createCampaign(member, [{ index: 0, delayDays: 0 }]);
    const otherCampaign = await createCampaign(other, [{ index: 0, delayDays: 0 }]);
    const { rows: experiments } = await member.query(
      "insert into outreach.step_experiments (workflow_step_id, name, status) values ($1, 'x', 'running') returning id",
      [campaign.steps[0]!.id],
    );
    await member.query(
      "insert into outreach.step_experiment_variants (step_experiment_id, key, weight) values ($1, 'A', 1), ($1, 'B', 1)",
      [experiments[0]!.id],
    );
    await enrol(member, campaign.id, await createPositions(owner, org.id, 20));
    await enrol(other, otherCampaign.id, await createPositions(owner, otherOrg.id, 7));
    for (const [session, campaignId] of [
      [member, campaign.id],
      [other, otherCampaign.id],
    ] as const) {
      const tasks = (
        await session.query(
          "select t.* from outreach.claim_due_tasks(100, 'w') t join outreach.campaign_enrollments e on e.id = t.enrollment_id where e.campaign_id = $1",
          [campaignId],
        )
      ).rows;
      for (const [i, task] of tasks.entries()) {
        await session.query(
          "insert into outreach.messages (task_id, status, provider_thread_id) values ($1, 'sent', $2)",
          [task.id, `t-${task.id}`],
        );
        if (i % 3 === 0)
          await session.query(
            "insert into outreach.messages (direction, status, provider_thread_id) values ('inbound', 'received', $1)",
            [`t-${task.id}`],
          );
        if (i % 3 === 0)
          await session.query(
            "insert into outreach.messages (direction, status, provider_thread_id) values ('inbound', 'received', $1)",
            [`t-${task.id}`],
          );
      }
    }
    // Opens, through the privileged function the pixel endpoint uses (as the anonymous role).
    const { rows: tokens } = await owner.query(
      "select p.token from tracking.pixels p join outreach.messages m on m.id = p.message_id where m.campaign_id in ($1, $2)",
      [campaign.id, otherCampaign.id],
    );
    for (const [i, { token }] of tokens.entries()) {
      for (let n = 0; n < i % 4; n++) {
        await owner.query(
          "begin; set local role prospectflow_anonymous; select app_hidden.record_open($1, '10.0.0.1', 'ua'); commit;".replace(
            "$1",
            `'${token}'`,
          ),
        );
      }
    }
    const { rows: figures } = await member.query(
      "select (outreach.campaigns_performance(c)).* from outreach.campaigns c where c.id = $1",
      [campaign.id],
    );
    const { rows: truth } = await owner.query(
      `select (select count(*) from outreach.campaign_enrollments where campaign_id = $1) as enrolled,
              (select count(*) from outreach.messages where campaign_id = $1 and direction = 'outbound' and status = 'sent') as sent,
              (select count(*) from tracking.message_open_stats s join outreach.messages m on m.id = s.message_id where m.campaign_id = $1) as opened,
              (select count(distinct enrollment_id) from outreach.messages where campaign_id = $1 and direction = 'inbound') as replied`,
      [campaign.id],
    );
    const t = Object.fromEntries(Object.entries(truth[0]).map(([k, v]) => [k, Number(v)]));
    expect(t.enrolled).toBe(20);
    expect(t.opened).toBeGreaterThan(0);
    expect(Number(figures[0]!.enrolled)).toBe(t.enrolled);
    expect(Number(figures[0]!.sent)).toBe(t.sent);
    expect(Number(figures[0]!.opened)).toBe(t.opened);
    expect(Number(figures[0]!.replied)).toBe(t.replied);
    expect(Number(figures[0]!.open_rate)).toBeCloseTo(t.opened! / t.sent!, 3);
    expect(Number(figures[0]!.reply_rate)).toBeCloseTo(t.replied! / t.sent!, 3);

    const { rows: perVariant } = await member.query(
      `select v.id, (outreach.step_experiment_variants_performance(v)).* from outreach.step_experiment_variants v where v.step_experiment_id = $1`,
      [experiments[0]!.id],
    );
    for (const variant of perVariant) {
      const { rows: variantTruth } = await owner.query(
        `select count(*) filter (where m.direction = 'outbound') as sent,
                count(s.*) as opened
           from outreach.messages m left join tracking.message_open_stats s on s.message_id = m.id
          where m.variant_id = $1`,
        [variant.id],
      );
      expect(Number(variant.sent)).toBe(Number(variantTruth[0].sent));
      expect(Number(variant.opened)).toBe(Number(variantTruth[0].opened));
    }
    expect(perVariant.reduce((sum, v) => sum + Number(v.sent), 0)).toBe(t.sent);

    // Per day: today's row holds everything, and org B's activity is counted nowhere in A.
    const { rows: daily } = await member.query(
      "select d.* from outreach.campaigns c, outreach.campaigns_daily_performance(c, current_date - 1, current_date + 1) d where c.id = $1",
      [campaign.id],
    );
    expect(daily.reduce((sum, d) => sum + Number(d.emails_sent), 0)).toBe(t.sent);
    const { rows: visible } = await member.query(
      "select count(*)::int as n from tracking.campaign_daily_stats where campaign_id = $1",
      [otherCampaign.id],
    );
    expect(visible[0]!.n).toBe(0);
  });
});

describe("prompts", () => {
  it("numbers versions and keeps at most one active version per name", async () => {
    const name = `greeting-${Date.now()}`;
    const insert = (active: boolean) =>
      member.query(
        "insert into outreach.prompts (name, prompt_text, is_active) values ($1, 'Hi {{first_name}}', $2) returning id, version",
        [name, active],
      );
    const v1 = (await insert(true)).rows[0];
    const v2 = (await insert(true)).rows[0];
    const v3 = (await insert(false)).rows[0];
    expect([v1!.version, v2!.version, v3!.version]).toEqual([1, 2, 3]);
    const active = async () =>
      (
        await member.query("select version from outreach.prompts where name = $1 and is_active order by version", [
          name,
        ])
      ).rows.map((r) => r.version);
    expect(await active()).toEqual([2]);
    await member.query("update outreach.prompts set is_active = true where id = $1", [v1!.id]);
    expect(await active()).toEqual([1]);
  });
});
