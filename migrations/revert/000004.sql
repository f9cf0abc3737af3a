--! Reverts: sha1:f08e691ebbc00bff2bfbaf19cdfcce6902b5ed47

-- Reverts 000004 (identity and tenant lifecycle): back to the schema of 000003.
-- Loses: the sessions (sign-out and session expiry are no longer checked: a token stays valid
-- until it expires), the audit log, the proofs of organisation deletions, the reference data and
-- the organisations' time zone and country. Passwords (app_private.user_secrets, 000001) are kept.
-- Function definitions below are copied from the migrations that last defined them (000001, 000003);
-- policies as 000001–000003 wrote them.

-- The audit trail.
drop trigger _900_audit on iam.organisations;
drop trigger _900_audit on iam.organisation_users;
drop trigger _900_audit on crm.companies;
drop trigger _900_audit on crm.people;
drop trigger _900_audit on crm.positions;
drop trigger _900_audit on outreach.prompts;
drop trigger _900_audit on outreach.campaigns;
drop trigger _900_audit on outreach.workflow_steps;
drop trigger _900_audit on outreach.step_experiments;
drop trigger _900_audit on outreach.step_experiment_variants;
drop trigger _900_audit on outreach.campaign_enrollments;
drop trigger _900_audit on outreach.enrollment_step_variant_assignments;
drop trigger _900_audit on outreach.tasks;
drop trigger _900_audit on outreach.messages;
drop table iam.audit_log;
drop function app_hidden.tg__audit();
drop function app_hidden.tg_audit_log__append_only();

-- Deletion, membership, session and sign-in functions.
drop function iam.delete_current_organisation(text);
drop function app_hidden.delete_organisation_data(uuid, uuid);
drop table app_private.organisation_deletions;
drop function iam.invite_member(text, text);
drop function iam.change_member_role(uuid, text);
drop function iam.remove_member(uuid);
drop function iam.transfer_ownership(uuid);
drop function iam.logout();
drop function app_hidden.switch_organisation(uuid, integer);
drop function app_hidden.login(text, text, text, integer);
drop function app_hidden.register(text, text, text, integer);
drop function app_hidden.start_session(uuid, uuid, integer);
drop function app_hidden.unique_slug(text);
drop function app_hidden.set_password(uuid, text);
drop function app_hidden.check_password(text, text);
drop type app_hidden.session_grant;

-- Roles checked by rank again (require_role), instead of by permission.
create or replace function app_hidden.require_role(minimum_role text) returns boolean
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
as $$
declare
  ranks constant text[] := array['viewer', 'member', 'admin', 'owner'];
  member_role text := app_hidden.current_member_role();
begin
  if array_position(ranks, minimum_role) is null then
    raise exception 'Unknown role %', minimum_role;
  end if;
  if array_position(ranks, member_role) < array_position(ranks, minimum_role) then
    raise exception 'Forbidden: your role (%) cannot do this; it needs % or above', member_role, minimum_role
      using errcode = 'PT004';
  end if;
  return true;
end;
$$;
comment on function app_hidden.require_role(text) is
  'True when the current member''s role ranks at least minimum_role (viewer < member < admin < owner); '
  'otherwise fails with a clear "forbidden" error instead of silently filtering rows.';
grant execute on function app_hidden.require_role(text) to :DATABASE_VISITOR;

create or replace function app_hidden.current_member_role() returns text
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.setting_as_uuid('app.organisation_id');
  member uuid := app_hidden.setting_as_uuid('app.user_id');
  member_role text;
begin
  select m.role into member_role
    from iam.organisation_users m
    join iam.organisations o on o.id = m.organisation_id
   where m.organisation_id = organisation
     and m.user_id = member
     and m.status = 'active'
     and o.status = 'active';
  if member_role is null then
    raise exception 'Not a member: this user is not an active member of this organisation'
      using errcode = 'PT003';
  end if;
  return member_role;
end;
$$;
comment on function app_hidden.current_member_role() is
  'The role of app.user_id in app.organisation_id, failing closed when either is missing or the '
  'membership is not active. Security definer because it must read memberships that RLS would hide '
  'from the caller while the caller''s own tenant is still being established.';

create or replace function outreach.claim_due_tasks(max_tasks integer, worker_id text) returns setof outreach.tasks
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
begin
  perform app_hidden.require_role('member');
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

create or replace function outreach.complete_task(task_id uuid) returns outreach.tasks
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  done outreach.tasks;
  step_index integer;
begin
  perform app_hidden.require_role('member');
  perform app_hidden.lock_processing_task(organisation, task_id, 'completed');
  update outreach.tasks t
     set status = 'completed', completed_at = now(), locked_at = null, locked_by = null
   where t.organisation_id = organisation and t.id = task_id
  returning t.* into done;
  select s.step_index into step_index
    from outreach.workflow_steps s where s.organisation_id = organisation and s.id = done.workflow_step_id;
  if not app_hidden.schedule_step_after(organisation, done.enrollment_id, step_index, now()) then
    update outreach.campaign_enrollments e set state = 'completed', last_activity_at = now()
     where e.organisation_id = organisation and e.id = done.enrollment_id and e.state = 'active';
  end if;
  return done;
end;
$$;

create or replace function outreach.fail_task(task_id uuid, error_message text) returns outreach.tasks
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  failed outreach.tasks;
begin
  perform app_hidden.require_role('member');
  perform app_hidden.lock_processing_task(organisation, task_id, 'failed');
  update outreach.tasks t
     set status = case when t.attempts >= t.max_attempts then 'failed' else 'queued' end,
         -- Exponential backoff: 2, 4, 8… minutes after each failed attempt, at most a day.
         scheduled_for = case when t.attempts >= t.max_attempts then t.scheduled_for
                              else now() + make_interval(mins => least(power(2, t.attempts)::integer, 1440)) end,
         last_error = left(error_message, 10000), locked_at = null, locked_by = null
   where t.organisation_id = organisation and t.id = task_id
  returning t.* into failed;
  return failed;
end;
$$;

alter policy insert_none on iam.organisations with check (id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('owner')));
alter policy update_own on iam.organisations using (id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('admin')));
alter policy delete_own on iam.organisations using (id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('owner')));
alter policy insert_own on iam.organisation_users with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('admin')));
alter policy update_own on iam.organisation_users using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('admin')));
alter policy delete_own on iam.organisation_users using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('admin')));
alter policy insert_own on crm.companies with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on crm.companies using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on crm.companies using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on crm.people with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on crm.people using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on crm.people using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on crm.positions with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on crm.positions using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on crm.positions using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on outreach.prompts with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on outreach.prompts using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on outreach.prompts using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on outreach.campaigns with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on outreach.campaigns using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on outreach.campaigns using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on outreach.workflow_steps with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on outreach.workflow_steps using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on outreach.workflow_steps using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on outreach.step_experiments with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on outreach.step_experiments using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on outreach.step_experiments using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on outreach.step_experiment_variants with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on outreach.step_experiment_variants using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on outreach.step_experiment_variants using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on outreach.campaign_enrollments with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on outreach.campaign_enrollments using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on outreach.campaign_enrollments using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on outreach.tasks with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on outreach.tasks using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on outreach.tasks using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy insert_own on outreach.enrollment_step_variant_assignments with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_none on outreach.enrollment_step_variant_assignments using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('owner')));
alter policy delete_own on outreach.enrollment_step_variant_assignments using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('owner')));
alter policy insert_own on outreach.messages with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy update_own on outreach.messages using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
alter policy delete_own on outreach.messages using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));

drop function app_hidden.require_permission(text);
drop table app_private.sessions;

-- Organisations' time zone and country, and the reference data.
alter table iam.organisations drop column timezone, drop column country_code;
drop schema reference cascade;

comment on index iam.idx_org_users_user_id is null;
comment on index tracking.idx_pixels_token is null;
