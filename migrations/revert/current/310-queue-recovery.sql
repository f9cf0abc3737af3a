-- Loses no data: tasks it returned to the queue (or failed) stay as they are; claimed tasks are no longer recovered.
-- Revert part of migrations/current/310-queue-recovery.sql (see README, "Migrations: rolling one
-- back"): drops heartbeat_task, the recovery helper and the three-argument claim_due_tasks, and
-- re-creates claim_due_tasks(integer, text) as 000004 defined it (comment and grant from 000003).
drop function outreach.heartbeat_task(uuid, text);
drop function outreach.claim_due_tasks(integer, text, integer);
drop function app_hidden.recover_expired_tasks(uuid, integer);

create function outreach.claim_due_tasks(max_tasks integer, worker_id text) returns setof outreach.tasks
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
comment on function outreach.claim_due_tasks(integer, text) is
  'Claims up to max_tasks due tasks of your organisation for worker_id (active enrolments of active campaigns, '
  'oldest first); two workers never get the same task. Security definer because tasks are not writable '
  'directly; it checks your membership and role and touches only your organisation.';
grant execute on function outreach.claim_due_tasks(integer, text) to :DATABASE_VISITOR;
