--! Reverts: sha1:15bf754482c4d3b9da1b171e68e9686d03d568a5

-- Reverts 000006 (safe to expose: throttle, pixel abuse, queue recovery): back to the schema of the migration before it. What each part loses is
-- said at its head. Parts in reverse order of the migration's files (newest first).

--------------------------------------------------------------------------------
-- Revert part of migrations/current/600-audit-trigger-types.sql, for the revert script of the
-- migration it is committed into (see README, "Rolling a migration back"): tg__audit as 000004 defined it.
create or replace function app_hidden.tg__audit() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  old_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  new_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  changed_row jsonb := coalesce(new_row, old_row);
  -- iam.organisations is its own organisation.
  organisation uuid := coalesce(changed_row->>'organisation_id', changed_row->>'id')::uuid;
  changed text[] := '{}';
begin
  -- Rows removed with their organisation are not audited: the log goes with them.
  if tg_op = 'DELETE' and not exists (select 1 from iam.organisations o where o.id = organisation) then
    return null;
  end if;
  if tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}') into changed
      from jsonb_each(new_row) n where n.value is distinct from old_row -> n.key and n.key <> 'updated_at';
    if changed = '{}' then return null; end if;
  elsif tg_op = 'INSERT' then
    select coalesce(array_agg(n.key order by n.key), '{}') into changed
      from jsonb_each(new_row) n where n.value <> 'null'::jsonb;
  end if;
  insert into iam.audit_log (organisation_id, user_id, table_name, row_id, action, changed_columns)
  values (
    organisation,
    nullif(current_setting('app.user_id', true), '')::uuid,
    tg_table_schema || '.' || tg_table_name,
    case when tg_nargs = 0 then changed_row->>'id'
         else array_to_string(array(select changed_row->>key_column from unnest(tg_argv) key_column), ',') end,
    lower(tg_op),
    changed
  );
  return null;
end;
$$;

--------------------------------------------------------------------------------
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

--------------------------------------------------------------------------------
-- Loses: which client networks opened each pixel and when (app_private.pixel_openers); figures and events stay as counted.
-- Revert part of migrations/current/300-pixel-abuse.sql (see README, "Migrations: rolling one
-- back"): drops the openers table and the hourly-cap index, and re-creates record_open as 000003
-- defined it (it returned boolean; a return type cannot be replaced, so drop and create), with the
-- comments 000003 gave it and the open tables. Unique opens counted by client network are not
-- recounted by address and user agent (open events beyond 100 an hour were never kept); opens
-- counted after the revert follow 000003's rules again (every load counted, any message's pixel).
drop function app_hidden.record_open(text, inet, text);
drop table app_private.pixel_openers;
drop index tracking.idx_open_events_pixel_opened_at;

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
grant execute on function app_hidden.record_open(text, inet, text) to :DATABASE_ANONYMOUS;

comment on column tracking.open_events.opener_hash is 'Hash of address and user agent: opens with the same hash count once in unique opens.';
comment on table tracking.message_open_stats is
  'Open figures of one message: first and last open, total opens, unique openers (by address and user agent).';

--------------------------------------------------------------------------------
-- Loses: every throttle counter (app_throttle.counters): attempts counted so far start again from zero.
-- Revert part of migrations/current/200-throttle-counters.sql (see README, "Migrations: rolling one
-- back"): drops the schema it created, with its table, index and the serving roles' grants on them.
-- Without the table a production server refuses to start (development counts in memory).
drop schema app_throttle cascade;
