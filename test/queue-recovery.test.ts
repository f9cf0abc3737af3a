// Queues that recover: a worker that claims a task and dies (never completes, fails or heartbeats
// it) loses the task to the next claim after the lock timeout, with its attempt counted, and the
// task fails once its attempts are exhausted; a worker that heartbeats keeps it. Through SQL and
// through GraphQL (claimDueTasks' lockTimeoutSeconds, heartbeatTask) on the real server.
import { memberToken } from "./helpers/tokens.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server.ts";
import {
  createOrganisation,
  createPositions,
  memberSession,
  ownerPool,
  sqlstateOf,
  type MemberSession,
  type TestOrganisation,
} from "./helpers/database.ts";
import { graphql, startTestServer } from "./helpers/http-server.ts";

const owner = ownerPool();
let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
  await owner.end();
});

/** A fresh organisation with one active campaign and `tasks` due tasks. */
async function queueWith(tasks: number): Promise<{ org: TestOrganisation; member: MemberSession }> {
  const org = await createOrganisation(owner, "recover");
  const member = memberSession(owner, { organisationId: org.id, userId: org.users.member });
  const { rows } = await member.query(
    "insert into outreach.campaigns (name, status) values ('Q', 'active') returning id",
  );
  await member.query("insert into outreach.workflow_steps (campaign_id, step_index) values ($1, 0)", [rows[0]!.id]);
  await member.query(
    "insert into outreach.campaign_enrollments (campaign_id, position_id) select $1, unnest($2::uuid[])",
    [rows[0]!.id, await createPositions(owner, org.id, tasks)],
  );
  return { org, member };
}

/** Moves a claim back in time, as if its worker had held it that many seconds. */
async function ageLock(taskId: string, seconds: number) {
  await owner.query("update outreach.tasks set locked_at = locked_at - make_interval(secs => $2) where id = $1", [
    taskId,
    seconds,
  ]);
}

const claim = async (member: MemberSession, worker: string, timeoutSeconds?: number) =>
  (
    await member.query(
      timeoutSeconds === undefined
        ? "select * from outreach.claim_due_tasks(10, $1)"
        : "select * from outreach.claim_due_tasks(10, $1, $2)",
      timeoutSeconds === undefined ? [worker] : [worker, timeoutSeconds],
    )
  ).rows;

describe("a worker that claims and dies", () => {
  it("loses its task to the next claim after the lock timeout, not before", async () => {
    const { member } = await queueWith(1);
    const [task] = await claim(member, "dead-worker", 60);
    expect(task).toMatchObject({ status: "processing", locked_by: "dead-worker", attempts: 1 });
    // The worker dies. Within the timeout nobody else gets the task.
    await ageLock(task!.id, 30);
    expect(await claim(member, "worker-2", 60)).toEqual([]);
    // After it, the next claim returns it to the queue and claims it, counting a second attempt.
    await ageLock(task!.id, 31);
    const [again] = await claim(member, "worker-2", 60);
    expect(again).toMatchObject({ id: task!.id, status: "processing", locked_by: "worker-2", attempts: 2 });
    expect(again!.last_error).toMatch(/Lock expired: dead-worker claimed this task/);
    // The dead worker, coming back, can no longer complete it as its own…
    expect(await sqlstateOf(member.query("select outreach.heartbeat_task($1, 'dead-worker')", [task!.id]))).toBe(
      "PT120",
    );
    // …and the new holder completes it.
    const { rows } = await member.query("select status from outreach.complete_task($1)", [task!.id]);
    expect(rows[0]!.status).toBe("completed");
  });

  it("uses a five-minute timeout by default", async () => {
    const { member } = await queueWith(1);
    const [task] = await claim(member, "dead-worker");
    await ageLock(task!.id, 290);
    expect(await claim(member, "worker-2")).toEqual([]);
    await ageLock(task!.id, 11);
    expect((await claim(member, "worker-2")).map((t) => t.id)).toEqual([task!.id]);
  });

  it("fails the task when the expired claim was its last attempt", async () => {
    const { member } = await queueWith(1);
    const [task] = await claim(member, "dead-worker", 60);
    await owner.query("update outreach.tasks set max_attempts = 1 where id = $1", [task!.id]);
    await ageLock(task!.id, 61);
    expect(await claim(member, "worker-2", 60)).toEqual([]);
    const { rows } = await owner.query(
      "select status, attempts, locked_by, last_error from outreach.tasks where id = $1",
      [task!.id],
    );
    expect(rows[0]).toMatchObject({ status: "failed", attempts: 1, locked_by: null });
    expect(rows[0].last_error).toMatch(/Lock expired/);
  });

  it("leaves live claims of other tasks alone", async () => {
    const { member } = await queueWith(2);
    const tasks = await claim(member, "worker-1", 60);
    expect(tasks).toHaveLength(2);
    await ageLock(tasks[0]!.id, 61);
    const reclaimed = await claim(member, "worker-2", 60);
    expect(reclaimed.map((t) => t.id)).toEqual([tasks[0]!.id]);
    const { rows } = await owner.query("select locked_by from outreach.tasks where id = $1", [tasks[1]!.id]);
    expect(rows[0].locked_by).toBe("worker-1");
  });
});

describe("heartbeat", () => {
  it("keeps a long task with its worker past the timeout", async () => {
    const { member } = await queueWith(1);
    const [task] = await claim(member, "slow-worker", 60);
    await ageLock(task!.id, 50);
    const { rows } = await member.query("select * from outreach.heartbeat_task($1, 'slow-worker')", [task!.id]);
    expect(rows[0]).toMatchObject({ status: "processing", locked_by: "slow-worker" });
    await ageLock(task!.id, 50); // 100 s since the claim, 50 since the heartbeat
    expect(await claim(member, "worker-2", 60)).toEqual([]);
    const { rows: done } = await member.query("select status from outreach.complete_task($1)", [task!.id]);
    expect(done[0]!.status).toBe("completed");
  });

  it("is refused for a task that is not processing, for a viewer, without a worker, and for bad timeouts", async () => {
    const { org, member } = await queueWith(2);
    const [task] = (await member.query("select * from outreach.claim_due_tasks(1, 'w', 60)")).rows;
    await member.query("select outreach.complete_task($1)", [task!.id]);
    expect(await sqlstateOf(member.query("select outreach.heartbeat_task($1, 'w')", [task!.id]))).toBe("PT010");
    const viewer = memberSession(owner, { organisationId: org.id, userId: org.users.viewer });
    expect(await sqlstateOf(viewer.query("select outreach.heartbeat_task($1, 'w')", [task!.id]))).toBe("PT004");
    const [other] = await claim(member, "w2", 60);
    expect(await sqlstateOf(member.query("select outreach.heartbeat_task($1, null)", [other!.id]))).toBe("22023");
    expect(await sqlstateOf(member.query("select outreach.claim_due_tasks(1, 'w', 0)"))).toBe("22023");
    expect(await sqlstateOf(member.query("select outreach.claim_due_tasks(1, 'w', 86401)"))).toBe("22023");
    await expect(member.query("select outreach.claim_due_tasks(1, 'w', 1)")).resolves.toBeDefined();
  });
});

describe("through GraphQL", () => {
  it("claims with a lock timeout, heartbeats, and reports a lost lock with TASK_LOCK_LOST", async () => {
    const { org } = await queueWith(1);
    const token = memberToken(org, "member");
    const claimed = await graphql(
      server,
      `
        mutation {
          claimDueTasks(input: { maxTasks: 5, workerId: "gql-1", lockTimeoutSeconds: 60 }) {
            result {
              id
              status
            }
          }
        }
      `,
      { token },
    );
    expect(claimed.body.errors).toBeUndefined();
    const [task] = claimed.body.data!.claimDueTasks.result;
    const heartbeat = (worker: string) =>
      graphql(
        server,
        `
          mutation ($id: UUID!, $worker: String!) {
            heartbeatTask(input: { taskId: $id, workerId: $worker }) {
              result {
                status
                lockedBy
              }
            }
          }
        `,
        { token, variables: { id: task.id, worker } },
      );
    const alive = await heartbeat("gql-1");
    expect(alive.body.errors).toBeUndefined();
    expect(alive.body.data!.heartbeatTask.result).toEqual({ status: "processing", lockedBy: "gql-1" });
    await ageLock(task.id, 61);
    const stolen = await graphql(
      server,
      `
        mutation {
          claimDueTasks(input: { maxTasks: 5, workerId: "gql-2", lockTimeoutSeconds: 60 }) {
            result {
              id
              attempts
            }
          }
        }
      `,
      { token },
    );
    expect(stolen.body.data!.claimDueTasks.result).toEqual([{ id: task.id, attempts: 2 }]);
    const lost = await heartbeat("gql-1");
    expect(lost.body.errors?.[0]?.extensions?.code).toBe("TASK_LOCK_LOST");
    expect(lost.body.errors?.[0]?.message).toMatch(/claimed by another worker/);
  });
});
