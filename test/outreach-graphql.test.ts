// The dashboard developer's path, all through GraphQL and the pixel URL with a member's token:
// a campaign with two steps and an A/B test, enrolments, scheduled tasks, sends, opens, a reply,
// and figures that match; bad input gets stable error codes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server.ts";
import { createOrganisation, createPositions, ownerPool, type TestOrganisation } from "./helpers/database.ts";
import { graphql, startTestServer } from "./helpers/http-server.ts";
import { memberToken } from "./helpers/tokens.ts";

const owner = ownerPool();
let server: RunningServer;
let org: TestOrganisation;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  org = await createOrganisation(owner, "dash");
  token = memberToken(org, "member", 600);
});

afterAll(async () => {
  await server.close();
  await owner.end();
});

/** Runs a GraphQL operation as the member and returns its data, failing on any error. */
async function run(query: string, variables: Record<string, unknown> = {}) {
  const response = await graphql(server, query, { token, variables });
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  return response.body.data!;
}

async function errorCode(query: string, variables: Record<string, unknown> = {}) {
  const response = await graphql(server, query, { token, variables });
  return response.body.errors?.[0]?.extensions?.code;
}

describe("a campaign from creation to figures", () => {
  it("creates, enrols, schedules, sends, tracks opens and replies, and reports correct figures", async () => {
    const positions = await createPositions(owner, org.id, 4);
    const campaign = (
      await run(
        `mutation { createCampaign(input: { campaign: { name: "Q4 outreach", status: active } }) { campaign { id createdByUserId } } }`,
      )
    ).createCampaign.campaign;
    expect(campaign.createdByUserId).toBe(org.users.member);
    const createStep = `mutation($campaign: UUID!, $index: Int!, $delay: Int!) {
      createWorkflowStep(input: { workflowStep: { campaignId: $campaign, stepIndex: $index, delayDays: $delay } }) { workflowStep { id } } }`;
    const first = (await run(createStep, { campaign: campaign.id, index: 0, delay: 0 })).createWorkflowStep
      .workflowStep;
    await run(createStep, { campaign: campaign.id, index: 1, delay: 3 });
    const experiment = (
      await run(
        `mutation($step: UUID!) { createStepExperiment(input: { stepExperiment: { workflowStepId: $step, name: "Subject line", status: running } }) { stepExperiment { id } } }`,
        { step: first.id },
      )
    ).createStepExperiment.stepExperiment;
    for (const key of ["A", "B"]) {
      await run(
        `mutation($experiment: UUID!, $key: String!) { createStepExperimentVariant(input: { stepExperimentVariant: { stepExperimentId: $experiment, key: $key, weight: 1, subjectTemplate: "Hello" } }) { stepExperimentVariant { id } } }`,
        { experiment: experiment.id, key },
      );
    }
    for (const position of positions) {
      await run(
        `mutation($campaign: UUID!, $position: UUID!) { createCampaignEnrollment(input: { campaignEnrollment: { campaignId: $campaign, positionId: $position } }) { campaignEnrollment { state } } }`,
        { campaign: campaign.id, position },
      );
    }

    const scheduled = await run(
      `query($id: UUID!) { campaign(id: $id) { campaignEnrollments { nodes { state tasks { nodes { status workflowStep { stepIndex } } }
         variantAssignments { nodes { stepExperimentVariant { key } } } } } } }`,
      { id: campaign.id },
    );
    const enrollments = scheduled.campaign.campaignEnrollments.nodes;
    expect(enrollments).toHaveLength(4);
    for (const enrollment of enrollments) {
      expect(enrollment.state).toBe("active");
      expect(enrollment.tasks.nodes).toEqual([{ status: "queued", workflowStep: { stepIndex: 0 } }]);
      expect(enrollment.variantAssignments.nodes).toHaveLength(1);
    }

    const claimed = (
      await run(`mutation { claimDueTasks(input: { maxTasks: 10, workerId: "worker-1" }) { result { id status } } }`)
    ).claimDueTasks.result;
    expect(claimed).toHaveLength(4);
    const tokens: string[] = [];
    for (const [i, task] of claimed.entries()) {
      const message = (
        await run(
          `mutation($task: UUID!, $thread: String!) { createMessage(input: { message: { taskId: $task, status: sent, providerThreadId: $thread, subject: "Hello" } })
           { message { variantId stepExperimentId pixels { nodes { token } } } } }`,
          { task: task.id, thread: `thread-${i}` },
        )
      ).createMessage.message;
      expect(message.stepExperimentId).toBe(experiment.id);
      expect(message.variantId).not.toBeNull();
      tokens.push(message.pixels.nodes[0].token);
      await run(`mutation($task: UUID!) { completeTask(input: { taskId: $task }) { result { status } } }`, {
        task: task.id,
      });
    }
    // Two recipients open (one twice), one replies.
    for (const pixel of [tokens[0], tokens[0], tokens[1]]) {
      const response = await fetch(`${server.url}/t/${pixel}.gif`);
      expect(response.status).toBe(200);
    }
    await run(
      `mutation { createMessage(input: { message: { direction: inbound, status: received, providerThreadId: "thread-1", bodyText: "Yes!" } }) { message { enrollmentId } } }`,
    );

    const today = new Date().toISOString().slice(0, 10);
    const figures = await run(
      `query($id: UUID!, $day: Date!) { campaign(id: $id) {
         performance { enrolled sent opened replied openRate replyRate }
         dailyPerformance(fromDay: $day, toDay: $day) { nodes { day enrolled emailsSent emailsOpened emailsReplied } }
         workflowSteps(first: 10, orderBy: STEP_INDEX_ASC) { nodes { stepIndex tasks { totalCount }
           stepExperiments(first: 5) { nodes { stepExperimentVariants(first: 5) { nodes { key performance { enrolled sent opened replied } } } } } } } } }`,
      { id: campaign.id, day: today },
    );
    expect(figures.campaign.performance).toEqual({
      enrolled: 4,
      sent: 4,
      opened: 2,
      replied: 1,
      openRate: 0.5,
      replyRate: 0.25,
    });
    expect(figures.campaign.dailyPerformance.nodes).toEqual([
      { day: today, enrolled: 4, emailsSent: 4, emailsOpened: 2, emailsReplied: 1 },
    ]);
    // The second step was scheduled for three of the four (the one who replied had it cancelled).
    const [step0, step1] = figures.campaign.workflowSteps.nodes;
    expect(step0.tasks.totalCount).toBe(4);
    expect(step1.tasks.totalCount).toBe(4);
    const variants = step0.stepExperiments.nodes[0].stepExperimentVariants.nodes;
    const sum = (field: string) =>
      variants.reduce(
        (total: number, v: { performance: Record<string, string> }) => total + Number(v.performance[field]),
        0,
      );
    expect([sum("enrolled"), sum("sent"), sum("opened"), sum("replied")]).toEqual([4, 4, 2, 1]);
    const { rows } = await owner.query(
      "select count(*) filter (where status = 'cancelled')::int as cancelled, count(*) filter (where status = 'queued')::int as queued from outreach.tasks where organisation_id = $1",
      [org.id],
    );
    expect(rows[0]).toEqual({ cancelled: 1, queued: 3 });
  });
});

describe("bad input", () => {
  it("enrolling a position of another organisation is REFERENCE_MISSING", async () => {
    const other = await createOrganisation(owner, "dash-other");
    const [foreign] = await createPositions(owner, other.id, 1);
    const campaign = (await run(`mutation { createCampaign(input: { campaign: { name: "X" } }) { campaign { id } } }`))
      .createCampaign.campaign;
    expect(
      await errorCode(
        `mutation($c: UUID!, $p: UUID!) { createCampaignEnrollment(input: { campaignEnrollment: { campaignId: $c, positionId: $p } }) { campaignEnrollment { id } } }`,
        { c: campaign.id, p: foreign },
      ),
    ).toBe("REFERENCE_MISSING");
  });

  it("a step index that already exists is ALREADY_EXISTS; a weight of 0 and an unknown status are INVALID_INPUT", async () => {
    const campaign = (await run(`mutation { createCampaign(input: { campaign: { name: "Y" } }) { campaign { id } } }`))
      .createCampaign.campaign;
    const createStep = `mutation($c: UUID!) { createWorkflowStep(input: { workflowStep: { campaignId: $c, stepIndex: 0 } }) { workflowStep { id } } }`;
    const step = (await run(createStep, { c: campaign.id })).createWorkflowStep.workflowStep;
    expect(await errorCode(createStep, { c: campaign.id })).toBe("ALREADY_EXISTS");
    const experiment = (
      await run(
        `mutation($s: UUID!) { createStepExperiment(input: { stepExperiment: { workflowStepId: $s, name: "E" } }) { stepExperiment { id } } }`,
        { s: step.id },
      )
    ).createStepExperiment.stepExperiment;
    expect(
      await errorCode(
        `mutation($e: UUID!) { createStepExperimentVariant(input: { stepExperimentVariant: { stepExperimentId: $e, key: "A", weight: 0 } }) { stepExperimentVariant { id } } }`,
        { e: experiment.id },
      ),
    ).toBe("INVALID_INPUT");
    expect(
      await errorCode(
        `mutation($c: UUID!, $s: CampaignStatus) { updateCampaign(input: { id: $c, patch: { status: $s } }) { campaign { id } } }`,
        { c: campaign.id, s: "running" },
      ),
    ).toBe("INVALID_INPUT");
  });

  it("a task transition that is not allowed is INVALID_TRANSITION", async () => {
    const [position] = await createPositions(owner, org.id, 1);
    const campaign = (
      await run(`mutation { createCampaign(input: { campaign: { name: "Z", status: active } }) { campaign { id } } }`)
    ).createCampaign.campaign;
    await run(
      `mutation($c: UUID!) { createWorkflowStep(input: { workflowStep: { campaignId: $c, stepIndex: 0 } }) { workflowStep { id } } }`,
      { c: campaign.id },
    );
    await run(
      `mutation($c: UUID!, $p: UUID!) { createCampaignEnrollment(input: { campaignEnrollment: { campaignId: $c, positionId: $p } }) { campaignEnrollment { id } } }`,
      { c: campaign.id, p: position },
    );
    const { rows } = await owner.query(
      "select t.id from outreach.tasks t join outreach.campaign_enrollments e on e.id = t.enrollment_id where e.position_id = $1",
      [position],
    );
    const complete = `mutation($t: UUID!) { completeTask(input: { taskId: $t }) { result { status } } }`;
    const response = await graphql(server, complete, { token, variables: { t: rows[0]!.id } });
    expect(response.body.errors?.[0]?.extensions?.code).toBe("INVALID_TRANSITION");
    expect(response.body.errors?.[0]?.message).toMatch(/only a processing task can be completed; this one is queued/);
    expect(await errorCode(`mutation { claimDueTasks(input: { maxTasks: 0, workerId: "w" }) { result { id } } }`)).toBe(
      "INVALID_INPUT",
    );
    expect(await errorCode(complete, { t: "00000000-0000-4000-8000-000000000000" })).toBe("NOT_FOUND");
  });
});
