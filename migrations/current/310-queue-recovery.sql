-- Queues that recover (issue 13 item 3): a task whose worker died (claimed, never completed or
-- failed, no heartbeat) goes back to the queue when the next claim runs after the worker's lock
-- timeout; a worker running a long task keeps its claim with heartbeat_task.

drop function if exists outreach.claim_due_tasks(integer, text);
drop function if exists outreach.claim_due_tasks(integer, text, integer);
drop function if exists outreach.heartbeat_task(uuid, text);
drop function if exists app_hidden.recover_expired_tasks(uuid, integer);

create function app_hidden.recover_expired_tasks(organisation uuid, lock_timeout_seconds integer) returns integer
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  recovered integer;
begin
  -- The claim that expired already counted its attempt: the task is queued again as it is (due
  -- at once), or failed when that was its last attempt. Tasks another claim is recovering right
  -- now are skipped, never waited for.
  with expired as (
    select t.organisation_id, t.id
      from outreach.tasks t
     where t.organisation_id = organisation and t.status = 'processing'
       and t.locked_at < now() - make_interval(secs => lock_timeout_seconds)
       for update skip locked
  )
  update outreach.tasks t
     set status = case when t.attempts >= t.max_attempts then 'failed' else 'queued' end,
         last_error = left(format('Lock expired: %s claimed this task at %s and neither completed, failed nor '
                                  'heartbeat it within %s seconds', t.locked_by, t.locked_at, lock_timeout_seconds), 10000),
         locked_at = null, locked_by = null, updated_at = now()
    from expired
   where t.organisation_id = expired.organisation_id and t.id = expired.id;
  get diagnostics recovered = row_count;
  return recovered;
end;
$$;
comment on function app_hidden.recover_expired_tasks(uuid, integer) is
  'Returns the organisation''s processing tasks locked longer than the timeout to the queue (or fails them when their '
  'attempts are exhausted); called by claim_due_tasks before it claims.';

create function outreach.claim_due_tasks(max_tasks integer, worker_id text, lock_timeout_seconds integer default 300)
  returns setof outreach.tasks
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
begin
  perform app_hidden.require_permission('data.write');
  if max_tasks is null or max_tasks not between 1 and 1000 then
    raise exception 'Invalid input: max_tasks must be between 1 and 1000' using errcode = '22023';
  end if;
  if worker_id is null or length(worker_id) not between 1 and 200 then
    raise exception 'Invalid input: worker_id must be 1 to 200 characters' using errcode = '22023';
  end if;
  if lock_timeout_seconds is null or lock_timeout_seconds not between 1 and 86400 then
    raise exception 'Invalid input: lock_timeout_seconds must be between 1 and 86400' using errcode = '22023';
  end if;
  perform app_hidden.recover_expired_tasks(organisation, lock_timeout_seconds);
  return query
  with due as (
    select t.organisation_id, t.id
      from outreach.tasks t
      join outreach.campaign_enrollments e on e.organisation_id = t.organisation_id and e.id = t.enrollment_id
      join outreach.campaigns c on c.organisation_id = e.organisation_id and c.id = e.campaign_id
     where t.organisation_id = organisation
       and t.status = 'queued' and t.scheduled_for <= now()
       and e.state = 'active' and c.status = 'active'
     order by t.scheduled_for, t.id
     limit max_tasks
     for update of t skip locked
  )
  update outreach.tasks t
     set status = 'processing', locked_at = now(), locked_by = worker_id, attempts = t.attempts + 1
    from due
   where t.organisation_id = due.organisation_id and t.id = due.id
  returning t.*;
end;
$$;
comment on function outreach.claim_due_tasks(integer, text, integer) is
  'Claims up to max_tasks due tasks of your organisation for worker_id (active enrolments of active campaigns, '
  'oldest first); two workers never get the same task. First, tasks claimed more than lock_timeout_seconds ago '
  '(default 300) that were neither completed, failed nor heartbeat go back to the queue (their attempt counted; '
  'failed if it was the last). Security definer because tasks are not writable directly; it checks your membership '
  'and role and touches only your organisation.';

create function outreach.heartbeat_task(task_id uuid, worker_id text) returns outreach.tasks
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  alive outreach.tasks;
begin
  perform app_hidden.require_permission('data.write');
  if worker_id is null or length(worker_id) not between 1 and 200 then
    raise exception 'Invalid input: worker_id must be 1 to 200 characters' using errcode = '22023';
  end if;
  perform app_hidden.lock_processing_task(organisation, task_id, 'heartbeat');
  update outreach.tasks t
     set locked_at = now(), updated_at = now()
   where t.organisation_id = organisation and t.id = task_id and t.locked_by = worker_id
  returning t.* into alive;
  if alive.id is null then
    raise exception 'Task claimed by another worker: % no longer holds this task; stop working on it', worker_id
      using errcode = 'PT120';
  end if;
  return alive;
end;
$$;
comment on function outreach.heartbeat_task(uuid, text) is
  'Tells the queue that worker_id is still working on this processing task: its lock is renewed, so claims do not '
  'return it to the queue. Refused (TASK_LOCK_LOST) when the task went back to the queue and another worker holds '
  'it. Security definer because tasks are not writable directly; checks membership and role.';

grant execute on function outreach.claim_due_tasks(integer, text, integer), outreach.heartbeat_task(uuid, text)
  to :DATABASE_VISITOR;
