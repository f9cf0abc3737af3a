--! Previous: sha1:5f67a8385fe34dc18e4aa7de1cd2862a1d112a03
--! Hash: sha1:9df6d1c1e8620461286d224258feb139fcf0065f
--! Message: outreach and tracking

-- outreach: campaigns, their step sequences and A/B tests, enrolments, the task queue, messages
-- and versioned prompts; tracking: pixels, opens and the aggregated figures dashboards read.
-- Behaviour lives here so every client gets it: scheduling, stable A/B assignment, task state
-- machine, pixels on send, reply handling, single active prompt version, open counting.
-- Idempotent: it drops what it creates, so `graphile-migrate watch` can run it again and again.

drop schema if exists tracking cascade;
drop schema if exists outreach cascade;
-- The app_hidden helpers below outlive the two schemas; drop them too.
drop function if exists app_hidden.record_open(text, inet, text);
drop function if exists app_hidden.tg_messages__after_send_or_reply();
drop function if exists app_hidden.tg_tasks__assign_variant();
drop function if exists app_hidden.tg_campaign_enrollments__cancel_on_stop();
drop function if exists app_hidden.tg_campaign_enrollments__schedule_first_step();
drop function if exists app_hidden.lock_processing_task(uuid, uuid, text);
drop function if exists app_hidden.schedule_step_after(uuid, uuid, integer, timestamptz);
drop function if exists app_hidden.count_variant(uuid, uuid, uuid, text);
drop function if exists app_hidden.count_campaign_day(uuid, uuid, date, text);

create schema outreach;
comment on schema outreach is 'Campaigns: step sequences with A/B tests, enrolments, the task queue, messages and prompts.';
grant usage on schema outreach to :DATABASE_VISITOR;

create schema tracking;
comment on schema tracking is 'Email open tracking and the aggregated figures the dashboard reads.';
grant usage on schema tracking to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- outreach.prompts

create table outreach.prompts (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint prompts_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null constraint prompts_name_length check (length(name) between 1 and 200),
  purpose text constraint prompts_purpose_length check (length(purpose) <= 500),
  model text constraint prompts_model_length check (length(model) <= 100),
  version integer not null constraint prompts_version_positive check (version > 0),
  is_active boolean not null default false,
  prompt_text text not null constraint prompts_prompt_text_length check (length(prompt_text) between 1 and 100000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint prompts_version_unique unique (organisation_id, name, version)
);
create unique index idx_prompts_one_active_version on outreach.prompts (organisation_id, name) where is_active;
alter table outreach.prompts enable row level security;
create policy select_own on outreach.prompts for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on outreach.prompts for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on outreach.prompts for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on outreach.prompts for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on outreach.prompts to :DATABASE_VISITOR;
grant insert (name, purpose, model, version, is_active, prompt_text),
      update (purpose, model, is_active, prompt_text)
   on outreach.prompts to :DATABASE_VISITOR;
comment on table outreach.prompts is
  'A versioned AI prompt template used to draft emails; at most one version per name is active.';
comment on column outreach.prompts.version is E'@hasDefault\nVersion number within the name; assigned (last + 1) when omitted.';
comment on column outreach.prompts.is_active is 'Activating a version deactivates the other versions of the same name.';

create function outreach.tg_prompts__versioning() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op = 'INSERT' and new.version is null then
    -- Serialise version numbering per (organisation, name).
    perform pg_advisory_xact_lock(hashtextextended(new.organisation_id::text || '/' || new.name, 0));
    select coalesce(max(p.version), 0) + 1 into new.version
      from outreach.prompts p where p.organisation_id = new.organisation_id and p.name = new.name;
  end if;
  if new.is_active then
    update outreach.prompts p set is_active = false
     where p.organisation_id = new.organisation_id and p.name = new.name and p.id <> new.id and p.is_active;
  end if;
  return new;
end;
$$;
comment on function outreach.tg_prompts__versioning() is
  'Trigger: numbers new prompt versions and keeps a single active version per name.';
create trigger _100_set_updated_at before update on outreach.prompts
  for each row execute function app_hidden.tg__set_updated_at();
create trigger _200_versioning before insert or update of is_active on outreach.prompts
  for each row execute function outreach.tg_prompts__versioning();

--------------------------------------------------------------------------------
-- outreach.campaigns

create table outreach.campaigns (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint campaigns_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null constraint campaigns_name_length check (length(name) between 1 and 200),
  value_proposition text constraint campaigns_value_proposition_length check (length(value_proposition) <= 5000),
  status text not null default 'draft'
    constraint campaigns_status_valid check (status in ('draft', 'active', 'paused', 'completed', 'archived')),
  template_id uuid,
  from_mailbox_id uuid,
  created_by_user_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint campaigns_template_fk foreign key (organisation_id, template_id)
    references outreach.prompts (organisation_id, id) on delete set null (template_id),
  constraint campaigns_created_by_fk foreign key (organisation_id, created_by_user_id)
    references iam.organisation_users (organisation_id, user_id) on delete set null (created_by_user_id)
);
create index idx_campaigns_org_status on outreach.campaigns (organisation_id, status);
create index idx_campaigns_template on outreach.campaigns (organisation_id, template_id);
create index idx_campaigns_created_by on outreach.campaigns (organisation_id, created_by_user_id);
alter table outreach.campaigns enable row level security;
create policy select_own on outreach.campaigns for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on outreach.campaigns for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on outreach.campaigns for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on outreach.campaigns for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on outreach.campaigns to :DATABASE_VISITOR;
grant insert (name, value_proposition, status, template_id, from_mailbox_id),
      update (name, value_proposition, status, template_id, from_mailbox_id)
   on outreach.campaigns to :DATABASE_VISITOR;
comment on table outreach.campaigns is
  'An email campaign: a sequence of steps that enrolled prospects go through. Tasks run only while it is active.';
comment on column outreach.campaigns.status is 'draft, active, paused, completed or archived.';
comment on column outreach.campaigns.template_id is 'Default prompt used to draft this campaign''s emails.';
comment on column outreach.campaigns.from_mailbox_id is 'Mailbox the emails are sent from (managed by the mail integration).';
comment on column outreach.campaigns.created_by_user_id is 'The member who created the campaign (set from the signed-in user).';

create function outreach.tg_campaigns__set_created_by() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
begin
  -- Requests always carry a user; rows written by the owner (imports, fixtures) may have none.
  if new.created_by_user_id is null and nullif(current_setting('app.user_id', true), '') is not null then
    new.created_by_user_id := app_hidden.current_user_id();
  end if;
  return new;
end;
$$;
comment on function outreach.tg_campaigns__set_created_by() is 'Trigger: records the signed-in member as the campaign''s creator.';
create trigger _100_set_updated_at before update on outreach.campaigns
  for each row execute function app_hidden.tg__set_updated_at();
create trigger _200_set_created_by before insert on outreach.campaigns
  for each row execute function outreach.tg_campaigns__set_created_by();

--------------------------------------------------------------------------------
-- outreach.workflow_steps

create table outreach.workflow_steps (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint workflow_steps_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  campaign_id uuid not null,
  step_index integer not null constraint workflow_steps_step_index_range check (step_index between 0 and 1000),
  name text constraint workflow_steps_name_length check (length(name) <= 200),
  kind text not null default 'email'
    constraint workflow_steps_kind_valid check (kind in ('email', 'linkedin_message', 'call', 'manual_task')),
  delay_days integer not null default 0 constraint workflow_steps_delay_days_range check (delay_days between 0 and 365),
  exit_on_reply boolean not null default true,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint workflow_steps_campaign_fk foreign key (organisation_id, campaign_id)
    references outreach.campaigns (organisation_id, id) on delete cascade,
  constraint workflow_steps_step_index_unique unique (organisation_id, campaign_id, step_index)
);
alter table outreach.workflow_steps enable row level security;
create policy select_own on outreach.workflow_steps for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on outreach.workflow_steps for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on outreach.workflow_steps for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on outreach.workflow_steps for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on outreach.workflow_steps to :DATABASE_VISITOR;
grant insert (campaign_id, step_index, name, kind, delay_days, exit_on_reply, is_active),
      update (name, kind, delay_days, exit_on_reply, is_active)
   on outreach.workflow_steps to :DATABASE_VISITOR;
comment on table outreach.workflow_steps is
  'One step of a campaign''s sequence: what to do (kind) and how many days after the previous step.';
comment on column outreach.workflow_steps.step_index is 'Position in the sequence, unique within the campaign; steps run in increasing order.';
comment on column outreach.workflow_steps.exit_on_reply is 'When a prospect replies to this step''s message, their remaining tasks are cancelled.';
create trigger _100_set_updated_at before update on outreach.workflow_steps
  for each row execute function app_hidden.tg__set_updated_at();

--------------------------------------------------------------------------------
-- outreach.step_experiments and their variants (A/B tests)

create table outreach.step_experiments (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint step_experiments_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  workflow_step_id uuid not null,
  name text not null constraint step_experiments_name_length check (length(name) between 1 and 200),
  status text not null default 'draft'
    constraint step_experiments_status_valid check (status in ('draft', 'running', 'stopped', 'completed')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint step_experiments_workflow_step_fk foreign key (organisation_id, workflow_step_id)
    references outreach.workflow_steps (organisation_id, id) on delete cascade
);
create index idx_step_experiments_workflow_step on outreach.step_experiments (organisation_id, workflow_step_id);
create unique index idx_step_experiments_one_running on outreach.step_experiments (organisation_id, workflow_step_id)
  where status = 'running';
alter table outreach.step_experiments enable row level security;
create policy select_own on outreach.step_experiments for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on outreach.step_experiments for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on outreach.step_experiments for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on outreach.step_experiments for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on outreach.step_experiments to :DATABASE_VISITOR;
grant insert (workflow_step_id, name, status), update (name, status) on outreach.step_experiments to :DATABASE_VISITOR;
comment on table outreach.step_experiments is
  'An A/B test on one step: while running, each enrolment reaching the step is assigned a variant, once.';
comment on column outreach.step_experiments.status is 'draft, running (at most one per step), stopped or completed.';
create trigger _100_set_updated_at before update on outreach.step_experiments
  for each row execute function app_hidden.tg__set_updated_at();

create table outreach.step_experiment_variants (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint step_experiment_variants_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  step_experiment_id uuid not null,
  key text not null constraint step_experiment_variants_key_format check (key ~ '^[A-Za-z0-9_-]{1,50}$'),
  weight integer not null default 1 constraint step_experiment_variants_weight_positive check (weight > 0 and weight <= 10000),
  prompt_id uuid,
  subject_template text constraint step_experiment_variants_subject_length check (length(subject_template) <= 1000),
  body_template text constraint step_experiment_variants_body_length check (length(body_template) <= 100000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint step_experiment_variants_experiment_fk foreign key (organisation_id, step_experiment_id)
    references outreach.step_experiments (organisation_id, id) on delete cascade,
  constraint step_experiment_variants_prompt_fk foreign key (organisation_id, prompt_id)
    references outreach.prompts (organisation_id, id) on delete set null (prompt_id),
  constraint step_experiment_variants_key_unique unique (organisation_id, step_experiment_id, key),
  -- Lets assignments and messages prove that their variant belongs to their experiment.
  constraint step_experiment_variants_of_experiment unique (organisation_id, step_experiment_id, id)
);
create index idx_step_experiment_variants_prompt on outreach.step_experiment_variants (organisation_id, prompt_id);
alter table outreach.step_experiment_variants enable row level security;
create policy select_own on outreach.step_experiment_variants for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on outreach.step_experiment_variants for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on outreach.step_experiment_variants for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on outreach.step_experiment_variants for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on outreach.step_experiment_variants to :DATABASE_VISITOR;
grant insert (step_experiment_id, key, weight, prompt_id, subject_template, body_template),
      update (weight, prompt_id, subject_template, body_template)
   on outreach.step_experiment_variants to :DATABASE_VISITOR;
comment on table outreach.step_experiment_variants is
  'One arm of an A/B test, with its weight (share of assignments) and the content it sends.';
comment on column outreach.step_experiment_variants.weight is 'Relative share of enrolments assigned to this variant; must be positive.';
create trigger _100_set_updated_at before update on outreach.step_experiment_variants
  for each row execute function app_hidden.tg__set_updated_at();

--------------------------------------------------------------------------------
-- outreach.campaign_enrollments

create table outreach.campaign_enrollments (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint campaign_enrollments_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  campaign_id uuid not null,
  position_id uuid not null,
  state text not null default 'active'
    constraint campaign_enrollments_state_valid check (state in ('active', 'paused', 'completed', 'replied', 'bounced', 'unsubscribed', 'stopped')),
  enrolled_at timestamptz not null default now(),
  last_activity_at timestamptz,
  stopped_reason text constraint campaign_enrollments_stopped_reason_length check (length(stopped_reason) <= 500),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint campaign_enrollments_campaign_fk foreign key (organisation_id, campaign_id)
    references outreach.campaigns (organisation_id, id) on delete cascade,
  constraint campaign_enrollments_position_fk foreign key (organisation_id, position_id)
    references crm.positions (organisation_id, id) on delete cascade,
  constraint campaign_enrollments_position_once unique (organisation_id, campaign_id, position_id)
);
create index idx_campaign_enrollments_position on outreach.campaign_enrollments (organisation_id, position_id);
create index idx_campaign_enrollments_campaign_state on outreach.campaign_enrollments (organisation_id, campaign_id, state);
alter table outreach.campaign_enrollments enable row level security;
create policy select_own on outreach.campaign_enrollments for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on outreach.campaign_enrollments for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on outreach.campaign_enrollments for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on outreach.campaign_enrollments for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on outreach.campaign_enrollments to :DATABASE_VISITOR;
grant insert (campaign_id, position_id, enrolled_at), update (state, stopped_reason)
   on outreach.campaign_enrollments to :DATABASE_VISITOR;
comment on table outreach.campaign_enrollments is
  'A prospect''s position enrolled in a campaign (once per campaign); enrolling schedules the first step.';
comment on column outreach.campaign_enrollments.state is
  'active, paused, completed, replied, bounced, unsubscribed or stopped; only active enrolments get tasks run.';
create trigger _100_set_updated_at before update on outreach.campaign_enrollments
  for each row execute function app_hidden.tg__set_updated_at();

--------------------------------------------------------------------------------
-- outreach.tasks: the queue workers claim from

create table outreach.tasks (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint tasks_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  enrollment_id uuid not null,
  workflow_step_id uuid not null,
  task_type text not null default 'send'
    constraint tasks_task_type_valid check (task_type in ('research', 'draft', 'send', 'follow_up')),
  scheduled_for timestamptz not null,
  status text not null default 'queued'
    constraint tasks_status_valid check (status in ('queued', 'processing', 'completed', 'failed', 'cancelled')),
  attempts integer not null default 0 constraint tasks_attempts_range check (attempts >= 0),
  max_attempts integer not null default 5 constraint tasks_max_attempts_range check (max_attempts between 1 and 100),
  locked_at timestamptz,
  locked_by text constraint tasks_locked_by_length check (length(locked_by) <= 200),
  last_error text constraint tasks_last_error_length check (length(last_error) <= 10000),
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint tasks_enrollment_fk foreign key (organisation_id, enrollment_id)
    references outreach.campaign_enrollments (organisation_id, id) on delete cascade,
  constraint tasks_workflow_step_fk foreign key (organisation_id, workflow_step_id)
    references outreach.workflow_steps (organisation_id, id) on delete cascade
);
create index idx_tasks_org_status on outreach.tasks (organisation_id, status, scheduled_for);
create index idx_tasks_enrollment on outreach.tasks (organisation_id, enrollment_id);
create index idx_tasks_workflow_step on outreach.tasks (organisation_id, workflow_step_id);
alter table outreach.tasks enable row level security;
create policy select_own on outreach.tasks for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on outreach.tasks for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on outreach.tasks for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on outreach.tasks for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
-- Tasks are created by enrolment and moved only by claim/complete/fail: the visitor only reads them.
grant select on outreach.tasks to :DATABASE_VISITOR;
comment on constraint tasks_enrollment_fk on outreach.tasks is E'@foreignFieldName tasks\nThe enrolment this task runs a step for.';
comment on table outreach.tasks is
  'The intention to run one step for one enrolment at a time; workers claim due tasks, then complete or fail them.';
comment on column outreach.tasks.status is
  'queued → processing → completed; processing → queued (retry with backoff) or failed (attempts exhausted); queued or processing → cancelled.';

create function outreach.tg_tasks__allowed_transition() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
begin
  if new.status is distinct from old.status and not (
       (old.status = 'queued' and new.status in ('processing', 'cancelled'))
    or (old.status = 'processing' and new.status in ('completed', 'queued', 'failed', 'cancelled'))
  ) then
    raise exception 'Invalid task transition: a % task cannot become %', old.status, new.status
      using errcode = 'PT010';
  end if;
  return new;
end;
$$;
comment on function outreach.tg_tasks__allowed_transition() is 'Trigger: tasks move only along the allowed state transitions.';
create trigger _100_set_updated_at before update on outreach.tasks
  for each row execute function app_hidden.tg__set_updated_at();
create trigger _200_allowed_transition before update of status on outreach.tasks
  for each row execute function outreach.tg_tasks__allowed_transition();

--------------------------------------------------------------------------------
-- outreach.enrollment_step_variant_assignments: stable A/B assignment

create table outreach.enrollment_step_variant_assignments (
  organisation_id uuid not null
    constraint enrollment_step_variant_assignments_organisation_fk references iam.organisations on delete cascade,
  enrollment_id uuid not null,
  workflow_step_id uuid not null,
  step_experiment_id uuid not null,
  variant_id uuid not null,
  assigned_at timestamptz not null default now(),
  primary key (organisation_id, enrollment_id, workflow_step_id),
  constraint enrollment_step_variant_assignments_enrollment_fk foreign key (organisation_id, enrollment_id)
    references outreach.campaign_enrollments (organisation_id, id) on delete cascade,
  constraint enrollment_step_variant_assignments_workflow_step_fk foreign key (organisation_id, workflow_step_id)
    references outreach.workflow_steps (organisation_id, id) on delete cascade,
  constraint enrollment_step_variant_assignments_experiment_fk foreign key (organisation_id, step_experiment_id)
    references outreach.step_experiments (organisation_id, id) on delete cascade,
  constraint enrollment_step_variant_assignments_variant_fk foreign key (organisation_id, step_experiment_id, variant_id)
    references outreach.step_experiment_variants (organisation_id, step_experiment_id, id) on delete cascade
);
create index idx_assignments_workflow_step on outreach.enrollment_step_variant_assignments (organisation_id, workflow_step_id);
create index idx_assignments_experiment_variant on outreach.enrollment_step_variant_assignments (organisation_id, step_experiment_id, variant_id);
alter table outreach.enrollment_step_variant_assignments enable row level security;
create policy select_own on outreach.enrollment_step_variant_assignments for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on outreach.enrollment_step_variant_assignments for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_none on outreach.enrollment_step_variant_assignments for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('owner')));
create policy delete_own on outreach.enrollment_step_variant_assignments for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('owner')));
grant select on outreach.enrollment_step_variant_assignments to :DATABASE_VISITOR;
comment on constraint enrollment_step_variant_assignments_enrollment_fk on outreach.enrollment_step_variant_assignments is
  E'@foreignFieldName variantAssignments\nThe enrolment this assignment belongs to.';
comment on table outreach.enrollment_step_variant_assignments is
  'The A/B variant an enrolment got at a step: chosen by weight, deterministically, recorded once and never changed.';

create function outreach.tg_assignments__immutable() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception 'A/B assignments never change once recorded' using errcode = 'PT010';
end;
$$;
comment on function outreach.tg_assignments__immutable() is 'Trigger: refuses any update of an A/B assignment, whoever runs it.';
create trigger _100_immutable before update on outreach.enrollment_step_variant_assignments
  for each row execute function outreach.tg_assignments__immutable();

--------------------------------------------------------------------------------
-- outreach.messages

create table outreach.messages (
  organisation_id uuid not null default app_hidden.current_organisation_id()
    constraint messages_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  campaign_id uuid,
  enrollment_id uuid,
  task_id uuid,
  position_id uuid,
  direction text not null default 'outbound'
    constraint messages_direction_valid check (direction in ('outbound', 'inbound')),
  status text not null default 'draft'
    constraint messages_status_valid check (status in ('draft', 'pending_review', 'approved', 'sent', 'failed', 'bounced', 'received')),
  provider text constraint messages_provider_valid check (provider in ('gmail', 'outlook', 'smtp', 'manual')),
  mailbox_id uuid,
  provider_message_id text constraint messages_provider_message_id_length check (length(provider_message_id) <= 500),
  provider_thread_id text constraint messages_provider_thread_id_length check (length(provider_thread_id) <= 500),
  rfc822_message_id text constraint messages_rfc822_message_id_length check (length(rfc822_message_id) <= 1000),
  in_reply_to text constraint messages_in_reply_to_length check (length(in_reply_to) <= 1000),
  step_experiment_id uuid,
  variant_id uuid,
  subject text constraint messages_subject_length check (length(subject) <= 1000),
  body_text text constraint messages_body_text_length check (length(body_text) <= 1000000),
  body_html text constraint messages_body_html_length check (length(body_html) <= 2000000),
  ai_confidence_score integer constraint messages_ai_confidence_score_range check (ai_confidence_score between 0 and 100),
  sent_at timestamptz,
  received_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint messages_inbound_is_received check ((direction = 'inbound') = (status = 'received')),
  constraint messages_campaign_fk foreign key (organisation_id, campaign_id)
    references outreach.campaigns (organisation_id, id) on delete cascade,
  constraint messages_enrollment_fk foreign key (organisation_id, enrollment_id)
    references outreach.campaign_enrollments (organisation_id, id) on delete cascade,
  constraint messages_task_fk foreign key (organisation_id, task_id)
    references outreach.tasks (organisation_id, id) on delete set null (task_id),
  constraint messages_position_fk foreign key (organisation_id, position_id)
    references crm.positions (organisation_id, id) on delete cascade,
  constraint messages_experiment_fk foreign key (organisation_id, step_experiment_id)
    references outreach.step_experiments (organisation_id, id) on delete set null (step_experiment_id),
  constraint messages_variant_fk foreign key (organisation_id, step_experiment_id, variant_id)
    references outreach.step_experiment_variants (organisation_id, step_experiment_id, id) on delete set null (variant_id)
);
create index idx_messages_org_campaign on outreach.messages (organisation_id, campaign_id);
create index idx_messages_status on outreach.messages (organisation_id, status);
create index idx_messages_org_thread on outreach.messages (organisation_id, provider_thread_id);
create index idx_messages_rfc822 on outreach.messages (organisation_id, rfc822_message_id);
create index idx_messages_enrollment on outreach.messages (organisation_id, enrollment_id);
create index idx_messages_task on outreach.messages (organisation_id, task_id);
create index idx_messages_position on outreach.messages (organisation_id, position_id);
create index idx_messages_experiment_variant on outreach.messages (organisation_id, step_experiment_id, variant_id);
alter table outreach.messages enable row level security;
create policy select_own on outreach.messages for select
  using (organisation_id = (select app_hidden.current_organisation_id()));
create policy insert_own on outreach.messages for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy update_own on outreach.messages for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
create policy delete_own on outreach.messages for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_role('member')));
grant select, delete on outreach.messages to :DATABASE_VISITOR;
grant insert (campaign_id, enrollment_id, task_id, position_id, direction, status, provider, mailbox_id,
              provider_message_id, provider_thread_id, rfc822_message_id, in_reply_to, step_experiment_id,
              variant_id, subject, body_text, body_html, ai_confidence_score, sent_at, received_at),
      update (status, provider, mailbox_id, provider_message_id, provider_thread_id, rfc822_message_id,
              subject, body_text, body_html, ai_confidence_score, sent_at)
   on outreach.messages to :DATABASE_VISITOR;
comment on constraint messages_enrollment_fk on outreach.messages is E'@foreignFieldName messages\nThe enrolment this message was sent for or replies to.';
comment on table outreach.messages is
  'An email sent (outbound, from a task and possibly an A/B variant) or received (inbound reply, matched to its thread).';
comment on column outreach.messages.status is
  'Outbound: draft, pending_review, approved, sent, failed or bounced; inbound: received.';
comment on column outreach.messages.ai_confidence_score is 'How confident the drafting model was in this email, 0 to 100.';
create trigger _100_set_updated_at before update on outreach.messages
  for each row execute function app_hidden.tg__set_updated_at();

--------------------------------------------------------------------------------
-- tracking: pixels, opens, aggregated figures. All written only by the privileged functions
-- and triggers below; the visitor reads them.

create table tracking.pixels (
  organisation_id uuid not null
    constraint pixels_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  message_id uuid not null,
  token text not null constraint pixels_token_format check (token ~ '^[A-Za-z0-9_-]{32}$'),
  created_at timestamptz not null default now(),
  primary key (organisation_id, id),
  constraint pixels_message_fk foreign key (organisation_id, message_id)
    references outreach.messages (organisation_id, id) on delete cascade
);
create index idx_pixels_message on tracking.pixels (organisation_id, message_id);
-- The public pixel endpoint knows only the token: a global lookup, by design.
create unique index idx_pixels_token on tracking.pixels (token);
alter table tracking.pixels enable row level security;
create policy own_rows on tracking.pixels for all
  using (organisation_id = (select app_hidden.current_organisation_id()));
grant select on tracking.pixels to :DATABASE_VISITOR;
comment on table tracking.pixels is
  'The 1×1 image embedded in a sent email; its unguessable token identifies the message when the image is loaded.';

create table tracking.open_events (
  organisation_id uuid not null
    constraint open_events_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  message_id uuid not null,
  pixel_id uuid not null,
  opened_at timestamptz not null default now(),
  ip_address inet,
  user_agent text constraint open_events_user_agent_length check (length(user_agent) <= 1000),
  opener_hash text not null,
  primary key (organisation_id, id),
  constraint open_events_message_fk foreign key (organisation_id, message_id)
    references outreach.messages (organisation_id, id) on delete cascade,
  constraint open_events_pixel_fk foreign key (organisation_id, pixel_id)
    references tracking.pixels (organisation_id, id) on delete cascade
);
create index idx_open_events_message_opener on tracking.open_events (organisation_id, message_id, opener_hash);
create index idx_open_events_pixel on tracking.open_events (organisation_id, pixel_id);
alter table tracking.open_events enable row level security;
create policy own_rows on tracking.open_events for all
  using (organisation_id = (select app_hidden.current_organisation_id()));
grant select on tracking.open_events to :DATABASE_VISITOR;
comment on table tracking.open_events is 'One load of a tracking pixel: when, from which address and user agent.';
comment on column tracking.open_events.opener_hash is 'Hash of address and user agent: opens with the same hash count once in unique opens.';

create table tracking.message_open_stats (
  organisation_id uuid not null
    constraint message_open_stats_organisation_fk references iam.organisations on delete cascade,
  message_id uuid not null,
  first_open_at timestamptz not null,
  last_open_at timestamptz not null,
  total_opens bigint not null default 0 constraint message_open_stats_total_opens_positive check (total_opens >= 0),
  unique_opens bigint not null default 0 constraint message_open_stats_unique_opens_range check (unique_opens between 0 and total_opens),
  updated_at timestamptz not null default now(),
  primary key (organisation_id, message_id),
  constraint message_open_stats_message_fk foreign key (organisation_id, message_id)
    references outreach.messages (organisation_id, id) on delete cascade
);
alter table tracking.message_open_stats enable row level security;
create policy own_rows on tracking.message_open_stats for all
  using (organisation_id = (select app_hidden.current_organisation_id()));
grant select on tracking.message_open_stats to :DATABASE_VISITOR;
comment on table tracking.message_open_stats is
  'Open figures of one message: first and last open, total opens, unique openers (by address and user agent).';

create table tracking.campaign_daily_stats (
  organisation_id uuid not null
    constraint campaign_daily_stats_organisation_fk references iam.organisations on delete cascade,
  campaign_id uuid not null,
  day date not null,
  enrolled bigint not null default 0,
  emails_sent bigint not null default 0,
  emails_opened bigint not null default 0,
  emails_clicked bigint not null default 0,
  emails_replied bigint not null default 0,
  primary key (organisation_id, campaign_id, day),
  constraint campaign_daily_stats_campaign_fk foreign key (organisation_id, campaign_id)
    references outreach.campaigns (organisation_id, id) on delete cascade
);
alter table tracking.campaign_daily_stats enable row level security;
create policy own_rows on tracking.campaign_daily_stats for all
  using (organisation_id = (select app_hidden.current_organisation_id()));
grant select on tracking.campaign_daily_stats to :DATABASE_VISITOR;
comment on table tracking.campaign_daily_stats is
  'A campaign''s figures per day (UTC): enrolments, emails sent, emails opened for the first time, clicks, enrolments that replied.';

create table tracking.variant_stats (
  organisation_id uuid not null
    constraint variant_stats_organisation_fk references iam.organisations on delete cascade,
  step_experiment_id uuid not null,
  variant_id uuid not null,
  assigned bigint not null default 0,
  emails_sent bigint not null default 0,
  emails_opened bigint not null default 0,
  emails_replied bigint not null default 0,
  primary key (organisation_id, variant_id),
  constraint variant_stats_variant_fk foreign key (organisation_id, step_experiment_id, variant_id)
    references outreach.step_experiment_variants (organisation_id, step_experiment_id, id) on delete cascade
);
create index idx_variant_stats_experiment on tracking.variant_stats (organisation_id, step_experiment_id, variant_id);
alter table tracking.variant_stats enable row level security;
create policy own_rows on tracking.variant_stats for all
  using (organisation_id = (select app_hidden.current_organisation_id()));
grant select on tracking.variant_stats to :DATABASE_VISITOR;
comment on table tracking.variant_stats is
  'An A/B variant''s figures: enrolments assigned, emails sent, emails opened, enrolments that replied.';

--------------------------------------------------------------------------------
-- Counters, kept by the privileged triggers and functions below.

create function app_hidden.count_campaign_day(organisation uuid, campaign uuid, on_day date, figure text) returns void
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
begin
  if campaign is null then return; end if;
  insert into tracking.campaign_daily_stats as s (organisation_id, campaign_id, day, enrolled, emails_sent, emails_opened, emails_replied)
  values (organisation, campaign, on_day,
          (figure = 'enrolled')::int, (figure = 'sent')::int, (figure = 'opened')::int, (figure = 'replied')::int)
  on conflict (organisation_id, campaign_id, day) do update set
    enrolled = s.enrolled + (figure = 'enrolled')::int,
    emails_sent = s.emails_sent + (figure = 'sent')::int,
    emails_opened = s.emails_opened + (figure = 'opened')::int,
    emails_replied = s.emails_replied + (figure = 'replied')::int;
end;
$$;
comment on function app_hidden.count_campaign_day(uuid, uuid, date, text) is
  'Adds one to a campaign''s daily figure (enrolled, sent, opened or replied). Called by privileged triggers only.';

create function app_hidden.count_variant(organisation uuid, experiment uuid, variant uuid, figure text) returns void
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
begin
  if variant is null then return; end if;
  insert into tracking.variant_stats as s (organisation_id, step_experiment_id, variant_id, assigned, emails_sent, emails_opened, emails_replied)
  values (organisation, experiment, variant,
          (figure = 'assigned')::int, (figure = 'sent')::int, (figure = 'opened')::int, (figure = 'replied')::int)
  on conflict (organisation_id, variant_id) do update set
    assigned = s.assigned + (figure = 'assigned')::int,
    emails_sent = s.emails_sent + (figure = 'sent')::int,
    emails_opened = s.emails_opened + (figure = 'opened')::int,
    emails_replied = s.emails_replied + (figure = 'replied')::int;
end;
$$;
comment on function app_hidden.count_variant(uuid, uuid, uuid, text) is
  'Adds one to an A/B variant''s figure (assigned, sent, opened or replied). Called by privileged triggers only.';

--------------------------------------------------------------------------------
-- Scheduling: a task for the first (then the next) active step; stable A/B assignment.

create function app_hidden.schedule_step_after(organisation uuid, enrollment uuid, after_index integer, from_time timestamptz)
  returns boolean
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  next_step record;
begin
  select s.id, s.delay_days into next_step
    from outreach.campaign_enrollments e
    join outreach.workflow_steps s on s.organisation_id = e.organisation_id and s.campaign_id = e.campaign_id
   where e.organisation_id = organisation and e.id = enrollment
     and s.is_active and s.step_index > after_index
   order by s.step_index
   limit 1;
  if next_step.id is null then return false; end if;
  insert into outreach.tasks (organisation_id, enrollment_id, workflow_step_id, scheduled_for)
  values (organisation, enrollment, next_step.id, from_time + make_interval(days => next_step.delay_days));
  return true;
end;
$$;
comment on function app_hidden.schedule_step_after(uuid, uuid, integer, timestamptz) is
  'Queues a task for the enrolment''s next active step after step_index after_index, delay_days after from_time; false when there is none.';

create function app_hidden.tg_campaign_enrollments__schedule_first_step() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_hidden.schedule_step_after(new.organisation_id, new.id, -1, new.enrolled_at);
  perform app_hidden.count_campaign_day(new.organisation_id, new.campaign_id, (new.enrolled_at at time zone 'UTC')::date, 'enrolled');
  return null;
end;
$$;
comment on function app_hidden.tg_campaign_enrollments__schedule_first_step() is
  'Trigger: a new enrolment gets a task for its campaign''s first active step at enrolled_at + delay_days. '
  'Security definer because the visitor may not write tasks or figures; it acts only on the new row''s '
  'organisation, which the insert policy has already checked.';
create trigger _500_schedule_first_step after insert on outreach.campaign_enrollments
  for each row execute function app_hidden.tg_campaign_enrollments__schedule_first_step();

create function app_hidden.tg_campaign_enrollments__cancel_on_stop() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
begin
  if new.state in ('completed', 'replied', 'bounced', 'unsubscribed', 'stopped') and old.state in ('active', 'paused') then
    update outreach.tasks set status = 'cancelled'
     where organisation_id = new.organisation_id and enrollment_id = new.id and status = 'queued';
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_campaign_enrollments__cancel_on_stop() is
  'Trigger: an enrolment that ends (stopped, unsubscribed, bounced, completed, replied) has its queued tasks cancelled. '
  'Security definer because the visitor may not write tasks; acts only on the updated row''s organisation.';
create trigger _500_cancel_on_stop after update of state on outreach.campaign_enrollments
  for each row execute function app_hidden.tg_campaign_enrollments__cancel_on_stop();

create function app_hidden.tg_tasks__assign_variant() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  experiment uuid;
  chosen uuid;
begin
  select x.id into experiment
    from outreach.step_experiments x
   where x.organisation_id = new.organisation_id and x.workflow_step_id = new.workflow_step_id and x.status = 'running';
  if experiment is null then return null; end if;
  -- Deterministic weighted choice: the enrolment's hash picks a point in [0, total weight).
  with variants as (
    select v.id,
           sum(v.weight) over (order by v.key, v.id) as upper_bound,
           sum(v.weight) over () as total_weight
      from outreach.step_experiment_variants v
     where v.organisation_id = new.organisation_id and v.step_experiment_id = experiment
  )
  select v.id into chosen
    from variants v
   where (('x' || substr(md5(new.enrollment_id::text || ':' || experiment::text), 1, 8))::bit(32)::bigint
          % v.total_weight) < v.upper_bound
   order by v.upper_bound
   limit 1;
  if chosen is null then return null; end if;
  insert into outreach.enrollment_step_variant_assignments
    (organisation_id, enrollment_id, workflow_step_id, step_experiment_id, variant_id)
  values (new.organisation_id, new.enrollment_id, new.workflow_step_id, experiment, chosen)
  on conflict do nothing;
  if found then
    perform app_hidden.count_variant(new.organisation_id, experiment, chosen, 'assigned');
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_tasks__assign_variant() is
  'Trigger: when an enrolment reaches a step with a running experiment, records its variant once, chosen by weight '
  'from a hash of the enrolment (the same enrolment always gets the same variant). Security definer because the '
  'visitor may not write assignments; acts only on the new task''s organisation.';
create trigger _500_assign_variant after insert on outreach.tasks
  for each row execute function app_hidden.tg_tasks__assign_variant();

--------------------------------------------------------------------------------
-- The task queue: claim, complete, fail.

create function outreach.claim_due_tasks(max_tasks integer, worker_id text) returns setof outreach.tasks
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
comment on function outreach.claim_due_tasks(integer, text) is
  'Claims up to max_tasks due tasks of your organisation for worker_id (active enrolments of active campaigns, '
  'oldest first); two workers never get the same task. Security definer because tasks are not writable '
  'directly; it checks your membership and role and touches only your organisation.';

create function app_hidden.lock_processing_task(organisation uuid, task_id uuid, outcome text) returns void
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  current_status text;
begin
  select t.status into current_status from outreach.tasks t
   where t.organisation_id = organisation and t.id = task_id
     for update;
  if current_status is null then
    raise exception 'Not found: no task with this id exists in your organisation' using errcode = 'PT011';
  end if;
  if current_status <> 'processing' then
    raise exception 'Invalid task transition: only a processing task can be %; this one is %', outcome, current_status
      using errcode = 'PT010';
  end if;
end;
$$;
comment on function app_hidden.lock_processing_task(uuid, uuid, text) is
  'Locks a task for completing or failing it, which only a claimed (processing) task may be.';

create function outreach.complete_task(task_id uuid) returns outreach.tasks
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
comment on function outreach.complete_task(uuid) is
  'Marks a processing task completed and queues the enrolment''s next active step (or completes the enrolment). '
  'Security definer because tasks are not writable directly; checks membership and role, touches only your organisation.';

create function outreach.fail_task(task_id uuid, error_message text) returns outreach.tasks
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
comment on function outreach.fail_task(uuid, text) is
  'Records a failed attempt of a processing task: queued again with exponential backoff, or failed once '
  'max_attempts is reached. Security definer because tasks are not writable directly; checks membership and role.';

grant execute on function outreach.claim_due_tasks(integer, text), outreach.complete_task(uuid), outreach.fail_task(uuid, text)
  to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- Messages: provenance, pixel on send, replies.

create function outreach.tg_messages__fill_provenance() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  original record;
begin
  if new.direction = 'outbound' then
    if new.task_id is not null then
      select t.enrollment_id, t.workflow_step_id,
             a.step_experiment_id, a.variant_id, e.campaign_id, e.position_id
        into original
        from outreach.tasks t
        join outreach.campaign_enrollments e on e.organisation_id = t.organisation_id and e.id = t.enrollment_id
        left join outreach.enrollment_step_variant_assignments a
          on a.organisation_id = t.organisation_id and a.enrollment_id = t.enrollment_id and a.workflow_step_id = t.workflow_step_id
       where t.organisation_id = new.organisation_id and t.id = new.task_id;
      if found then
        new.enrollment_id := coalesce(new.enrollment_id, original.enrollment_id);
        new.step_experiment_id := coalesce(new.step_experiment_id, original.step_experiment_id);
        new.variant_id := coalesce(new.variant_id, original.variant_id);
        new.campaign_id := coalesce(new.campaign_id, original.campaign_id);
        new.position_id := coalesce(new.position_id, original.position_id);
      end if;
    elsif new.enrollment_id is not null then
      select e.campaign_id, e.position_id into original
        from outreach.campaign_enrollments e where e.organisation_id = new.organisation_id and e.id = new.enrollment_id;
      new.campaign_id := coalesce(new.campaign_id, original.campaign_id);
      new.position_id := coalesce(new.position_id, original.position_id);
    end if;
    if new.status = 'sent' and new.sent_at is null then
      new.sent_at := now();
    end if;
  elsif tg_op = 'INSERT' then
    new.received_at := coalesce(new.received_at, now());
    -- Match the thread: the outbound message this replies to.
    select m.enrollment_id, m.campaign_id, m.position_id into original
      from outreach.messages m
     where m.organisation_id = new.organisation_id and m.direction = 'outbound'
       and ((new.provider_thread_id is not null and m.provider_thread_id = new.provider_thread_id)
         or (new.in_reply_to is not null and m.rfc822_message_id = new.in_reply_to))
     order by m.sent_at desc nulls last
     limit 1;
    if found then
      new.enrollment_id := coalesce(new.enrollment_id, original.enrollment_id);
      new.campaign_id := coalesce(new.campaign_id, original.campaign_id);
      new.position_id := coalesce(new.position_id, original.position_id);
    end if;
  end if;
  return new;
end;
$$;
comment on function outreach.tg_messages__fill_provenance() is
  'Trigger: an outbound message records the enrolment, campaign, experiment and variant of its task; an inbound '
  'message is matched to the outbound message of the same thread (provider_thread_id or in_reply_to).';
create trigger _200_fill_provenance before insert or update on outreach.messages
  for each row execute function outreach.tg_messages__fill_provenance();

create function app_hidden.tg_messages__after_send_or_reply() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  replied_to record;
  enrollment_replied boolean;
begin
  if new.direction = 'outbound' and new.status = 'sent'
     and (tg_op = 'INSERT' or old.status is distinct from 'sent') then
    insert into tracking.pixels (organisation_id, message_id, token)
    values (new.organisation_id, new.id,
            translate(encode(public.gen_random_bytes(24), 'base64'), '+/', '-_'));
    perform app_hidden.count_campaign_day(new.organisation_id, new.campaign_id, (new.sent_at at time zone 'UTC')::date, 'sent');
    perform app_hidden.count_variant(new.organisation_id, new.step_experiment_id, new.variant_id, 'sent');
    update outreach.campaign_enrollments e set last_activity_at = new.sent_at
     where e.organisation_id = new.organisation_id and e.id = new.enrollment_id;
  elsif new.direction = 'inbound' and tg_op = 'INSERT' and new.enrollment_id is not null then
    select m.step_experiment_id, m.variant_id, coalesce(s.exit_on_reply, true) as exit_on_reply into replied_to
      from outreach.messages m
      left join outreach.tasks t on t.organisation_id = m.organisation_id and t.id = m.task_id
      left join outreach.workflow_steps s on s.organisation_id = t.organisation_id and s.id = t.workflow_step_id
     where m.organisation_id = new.organisation_id and m.enrollment_id = new.enrollment_id and m.direction = 'outbound'
       and ((new.provider_thread_id is not null and m.provider_thread_id = new.provider_thread_id)
         or (new.in_reply_to is not null and m.rfc822_message_id = new.in_reply_to))
     order by m.sent_at desc nulls last
     limit 1;
    update outreach.campaign_enrollments e
       set state = case when replied_to.exit_on_reply and e.state in ('active', 'paused') then 'replied' else e.state end,
           stopped_reason = case when replied_to.exit_on_reply and e.state in ('active', 'paused') then 'replied' else e.stopped_reason end,
           last_activity_at = new.received_at
     where e.organisation_id = new.organisation_id and e.id = new.enrollment_id;
    -- An enrolment counts as replied once, at its first reply.
    select count(*) = 1 into enrollment_replied
      from outreach.messages m
     where m.organisation_id = new.organisation_id and m.enrollment_id = new.enrollment_id and m.direction = 'inbound';
    if enrollment_replied then
      perform app_hidden.count_campaign_day(new.organisation_id, new.campaign_id, (new.received_at at time zone 'UTC')::date, 'replied');
      perform app_hidden.count_variant(new.organisation_id, replied_to.step_experiment_id, replied_to.variant_id, 'replied');
    end if;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_messages__after_send_or_reply() is
  'Trigger: a message becoming sent gets a tracking pixel with an unguessable token and is counted; an inbound reply '
  'marks its enrolment replied (cancelling its queued tasks when the step says exit_on_reply) and is counted once per '
  'enrolment. Security definer because the visitor may not write pixels, figures or tasks; it acts only on the '
  'message''s organisation, which the insert/update policy has already checked.';
create trigger _500_after_send_or_reply after insert or update of status on outreach.messages
  for each row execute function app_hidden.tg_messages__after_send_or_reply();

--------------------------------------------------------------------------------
-- Open tracking: the public pixel endpoint's only privilege.

create function app_hidden.record_open(pixel_token text, opener_ip inet, opener_user_agent text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  pixel record;
  opener text := md5(coalesce(host(opener_ip), '') || '|' || coalesce(opener_user_agent, ''));
  first_open boolean;
  seen_opener boolean;
begin
  select p.organisation_id, p.id, p.message_id, m.campaign_id, m.step_experiment_id, m.variant_id into pixel
    from tracking.pixels p
    join outreach.messages m on m.organisation_id = p.organisation_id and m.id = p.message_id
   where p.token = pixel_token;
  if not found then return false; end if;
  -- Upserting the message's figures first locks its row: concurrent opens of one message queue
  -- here, so each sees the ones before it and every open is counted exactly once.
  insert into tracking.message_open_stats as s (organisation_id, message_id, first_open_at, last_open_at, total_opens, unique_opens)
  values (pixel.organisation_id, pixel.message_id, now(), now(), 1, 0)
  on conflict (organisation_id, message_id) do update
    set total_opens = s.total_opens + 1, last_open_at = greatest(s.last_open_at, excluded.last_open_at), updated_at = now()
  returning (xmax = 0) into first_open;
  select exists (
    select 1 from tracking.open_events e
     where e.organisation_id = pixel.organisation_id and e.message_id = pixel.message_id and e.opener_hash = opener
  ) into seen_opener;
  if not seen_opener then
    update tracking.message_open_stats s set unique_opens = s.unique_opens + 1
     where s.organisation_id = pixel.organisation_id and s.message_id = pixel.message_id;
  end if;
  insert into tracking.open_events (organisation_id, message_id, pixel_id, ip_address, user_agent, opener_hash)
  values (pixel.organisation_id, pixel.message_id, pixel.id, opener_ip, left(opener_user_agent, 1000), opener);
  if first_open then
    perform app_hidden.count_campaign_day(pixel.organisation_id, pixel.campaign_id, (now() at time zone 'UTC')::date, 'opened');
    perform app_hidden.count_variant(pixel.organisation_id, pixel.step_experiment_id, pixel.variant_id, 'opened');
  end if;
  return true;
end;
$$;
comment on function app_hidden.record_open(text, inet, text) is
  'Records one load of a tracking pixel: the open event, the message''s open figures and the campaign''s daily '
  'figures. Security definer because the caller is the unauthenticated pixel endpoint (anonymous role): it can do '
  'nothing else, learns nothing but whether the token exists, and touches only the pixel''s organisation.';
grant usage on schema app_hidden to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.record_open(text, inet, text) to :DATABASE_ANONYMOUS;

--------------------------------------------------------------------------------
-- Dashboard figures: computed columns (PostGraphile exposes them as fields), all under RLS.

create type outreach.performance as (
  enrolled bigint,
  sent bigint,
  opened bigint,
  replied bigint,
  open_rate numeric,
  reply_rate numeric
);
comment on type outreach.performance is
  'Figures of a campaign or an A/B variant: enrolments (or assignments), emails sent, emails opened at least once, '
  'enrolments that replied; open_rate = opened / sent and reply_rate = replied / sent (null until something is sent).';

create function outreach.campaigns_performance(campaign outreach.campaigns) returns outreach.performance
  language sql stable
  set search_path = pg_catalog, pg_temp
as $$
  select coalesce(sum(d.enrolled), 0)::bigint, coalesce(sum(d.emails_sent), 0)::bigint,
         coalesce(sum(d.emails_opened), 0)::bigint, coalesce(sum(d.emails_replied), 0)::bigint,
         round(sum(d.emails_opened)::numeric / nullif(sum(d.emails_sent), 0), 4),
         round(sum(d.emails_replied)::numeric / nullif(sum(d.emails_sent), 0), 4)
    from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id;
$$;
comment on function outreach.campaigns_performance(outreach.campaigns) is
  'The campaign''s totals: enrolled, sent, opened, replied, open rate and reply rate.';

create function outreach.campaigns_daily_performance(campaign outreach.campaigns, from_day date, to_day date)
  returns setof tracking.campaign_daily_stats
  language sql stable
  set search_path = pg_catalog, pg_temp
as $$
  select d.* from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id
     and d.day between from_day and to_day
   order by d.day;
$$;
comment on function outreach.campaigns_daily_performance(outreach.campaigns, date, date) is
  'The campaign''s figures per day (UTC) from from_day to to_day inclusive; days without activity are absent.';

create function outreach.step_experiment_variants_performance(variant outreach.step_experiment_variants)
  returns outreach.performance
  language sql stable
  set search_path = pg_catalog, pg_temp
as $$
  select coalesce(s.assigned, 0), coalesce(s.emails_sent, 0), coalesce(s.emails_opened, 0), coalesce(s.emails_replied, 0),
         round(s.emails_opened::numeric / nullif(s.emails_sent, 0), 4),
         round(s.emails_replied::numeric / nullif(s.emails_sent, 0), 4)
    from (select 1) as one
    left join tracking.variant_stats s on s.organisation_id = variant.organisation_id and s.variant_id = variant.id;
$$;
comment on function outreach.step_experiment_variants_performance(outreach.step_experiment_variants) is
  'The A/B variant''s figures: enrolments assigned, sent, opened, replied, open rate and reply rate.';

grant execute on function
  outreach.campaigns_performance(outreach.campaigns),
  outreach.campaigns_daily_performance(outreach.campaigns, date, date),
  outreach.step_experiment_variants_performance(outreach.step_experiment_variants)
  to :DATABASE_VISITOR;
