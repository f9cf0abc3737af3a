--! Previous: sha1:ec43026f44759264845358e59172edd35205397b
--! Hash: sha1:15bf754482c4d3b9da1b171e68e9686d03d568a5
--! Message: Safe to expose: throttle, pixel abuse, queue recovery

--! split: 200-throttle-counters.sql
--------------------------------------------------------------------------------
-- Throttling shared by every API instance: rate-limiter-flexible's PostgreSQL store keeps one row
-- per counter (limiter name and a hash of the client address or account). Its own schema, so the
-- serving role gets usage on nothing else (app_private holds password hashes).

drop schema if exists app_throttle cascade;
create schema app_throttle;
comment on schema app_throttle is
  'Throttle counters (rate-limiter-flexible''s PostgreSQL store); never exposed through GraphQL.';

create table app_throttle.counters (
  key varchar(255) primary key,
  points integer not null default 0,
  expire bigint
);
create index idx_counters_expire on app_throttle.counters (expire);
comment on table app_throttle.counters is
  'One throttle counter: key = limiter name and a SHA-256 of the address or email (never in clear), points used, '
  'expiry in milliseconds since the epoch. Shared by every API instance; expired rows are deleted by the servers.';

-- The store runs as the authenticator itself (no SET ROLE: it runs outside any request
-- transaction). The authenticator's name comes from AUTH_DATABASE_URL, so the grant goes to the
-- login roles that may switch to the anonymous role: the authenticator (and the owner, who owns it anyway).
do $$
declare
  serving regrole;
begin
  for serving in
    select m.member::regrole from pg_auth_members m join pg_roles r on r.oid = m.member
     where m.roleid = ':DATABASE_ANONYMOUS'::regrole and r.rolcanlogin
  loop
    execute format('grant usage on schema app_throttle to %s', serving);
    execute format('grant select, insert, update, delete on app_throttle.counters to %s', serving);
  end loop;
end
$$;

--! split: 300-pixel-abuse.sql
-- Pixel abuse (issue 10 item 4): only sent outbound messages record opens; repeated hits of one
-- token from one client network within a minute count once (whatever the User-Agent); at most
-- 100 open events are kept per token per UTC hour; duplicates never wait on a lock or write a row.

drop function if exists app_hidden.record_open(text, inet, text);
drop table if exists app_private.pixel_openers;
drop index if exists tracking.idx_open_events_pixel_opened_at;

create table app_private.pixel_openers (
  organisation_id uuid not null
    constraint pixel_openers_organisation_fk references iam.organisations on delete cascade,
  pixel_id uuid not null,
  client_network inet not null,
  first_counted_at timestamptz not null default now(),
  last_counted_at timestamptz not null default now(),
  primary key (organisation_id, pixel_id, client_network),
  constraint pixel_openers_pixel_fk foreign key (organisation_id, pixel_id)
    references tracking.pixels (organisation_id, id) on delete cascade
);
alter table app_private.pixel_openers enable row level security;
comment on table app_private.pixel_openers is
  'Each client network (an IPv4 address, an IPv6 /64) that opened a pixel, and when it was last counted: the '
  'de-duplication window and the unique-opener figure. Written only by app_hidden.record_open; no API role reads it.';

-- The hourly event cap counts one pixel's recent events: an index that ends on the time.
create index idx_open_events_pixel_opened_at on tracking.open_events (organisation_id, pixel_id, opened_at);

create function app_hidden.record_open(pixel_token text, opener_ip inet, opener_user_agent text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  dedup_window constant interval := interval '60 seconds';
  events_per_hour constant integer := 100;
  pixel record;
  network inet;
  last_counted timestamptz;
  new_opener boolean;
  first_open boolean;
  events_this_hour integer;
begin
  select p.organisation_id, p.id, p.message_id, m.campaign_id, m.step_experiment_id, m.variant_id into pixel
    from tracking.pixels p
    join outreach.messages m on m.organisation_id = p.organisation_id and m.id = p.message_id
   where p.token = pixel_token and m.direction = 'outbound' and m.status = 'sent';
  if not found then return 'ignored'; end if;
  -- One opener is one network: an IPv6 client controls a whole /64, so it counts as one address.
  network := case when family(coalesce(opener_ip, '0.0.0.0')) = 6 then network(set_masklen(opener_ip, 64))::inet
                  else set_masklen(coalesce(opener_ip, '0.0.0.0'), 32) end;
  -- Another request of the same opener is being counted right now: this one is its duplicate.
  -- A try-lock never waits, so a flood of one token from one client never queues on a lock.
  if not pg_try_advisory_xact_lock(hashtextextended(pixel.id::text || '|' || network::text, 0)) then
    return 'duplicate';
  end if;
  select o.last_counted_at into last_counted from app_private.pixel_openers o
   where o.organisation_id = pixel.organisation_id and o.pixel_id = pixel.id and o.client_network = network;
  if last_counted is not null and last_counted > now() - dedup_window then
    return 'duplicate';
  end if;
  insert into app_private.pixel_openers as o (organisation_id, pixel_id, client_network)
  values (pixel.organisation_id, pixel.id, network)
  on conflict (organisation_id, pixel_id, client_network) do update set last_counted_at = now()
  returning (xmax = 0) into new_opener;
  -- The message's figures, last but for the event: its row lock is held only until commit, and
  -- only counted opens (never duplicates) take it, so they serialise briefly and count exactly.
  insert into tracking.message_open_stats as s (organisation_id, message_id, first_open_at, last_open_at, total_opens, unique_opens)
  values (pixel.organisation_id, pixel.message_id, now(), now(), 1, 1)
  on conflict (organisation_id, message_id) do update
    set total_opens = s.total_opens + 1,
        unique_opens = s.unique_opens + (case when new_opener then 1 else 0 end),
        last_open_at = greatest(s.last_open_at, excluded.last_open_at), updated_at = now()
  returning (xmax = 0) into first_open;
  -- Events: the first 100 counted opens of each UTC hour keep a row; later ones count in the
  -- figures only (the stats row lock above makes this count exact between concurrent opens).
  select count(*) into events_this_hour from tracking.open_events e
   where e.organisation_id = pixel.organisation_id and e.pixel_id = pixel.id
     and e.opened_at >= date_trunc('hour', now() at time zone 'UTC') at time zone 'UTC';
  if events_this_hour < events_per_hour then
    insert into tracking.open_events (organisation_id, message_id, pixel_id, ip_address, user_agent, opener_hash)
    values (pixel.organisation_id, pixel.message_id, pixel.id, opener_ip, left(opener_user_agent, 1000),
            md5(coalesce(host(opener_ip), '') || '|' || coalesce(opener_user_agent, '')));
  end if;
  if first_open then
    perform app_hidden.count_campaign_day(pixel.organisation_id, pixel.campaign_id, (now() at time zone 'UTC')::date, 'opened');
    perform app_hidden.count_variant(pixel.organisation_id, pixel.step_experiment_id, pixel.variant_id, 'opened');
  end if;
  return 'counted';
end;
$$;
comment on function app_hidden.record_open(text, inet, text) is
  'Records one load of a tracking pixel and says what it did: ''counted'' (figures, and an event while the token has '
  'fewer than 100 this hour), ''duplicate'' (the same client network within 60 seconds, or concurrently: nothing '
  'written), ''ignored'' (unknown token, or a message that is not a sent outbound one). Security definer because the '
  'caller is the unauthenticated pixel endpoint (anonymous role): it can do nothing else, learns nothing (the '
  'endpoint answers the same image) and touches only the pixel''s organisation.';
grant execute on function app_hidden.record_open(text, inet, text) to :DATABASE_ANONYMOUS;

comment on column tracking.open_events.opener_hash is
  'Hash of address and user agent of this load (unique opens count client networks instead: see message_open_stats).';
comment on table tracking.message_open_stats is
  'Open figures of one message: first and last open, total opens (repeats from one client network within a minute '
  'count once), unique openers (distinct client networks: an IPv4 address or an IPv6 /64).';

--! split: 310-queue-recovery.sql
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

--! split: 600-audit-trigger-types.sql
-- plpgsql_check clean (issue 14): app_hidden.tg__audit initialised its text[] from an untyped '{}'
-- literal, which plpgsql_check reports as "target type is different type than source type"
-- (text to text[] through an I/O cast, at every call). Same function otherwise, typed literals.
-- Idempotent: create or replace, with its comment again.

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
  changed text[] := '{}'::text[];
begin
  -- Rows removed with their organisation are not audited: the log goes with them.
  if tg_op = 'DELETE' and not exists (select 1 from iam.organisations o where o.id = organisation) then
    return null;
  end if;
  if tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}'::text[]) into changed
      from jsonb_each(new_row) n where n.value is distinct from old_row -> n.key and n.key <> 'updated_at';
    if changed = '{}'::text[] then return null; end if;
  elsif tg_op = 'INSERT' then
    select coalesce(array_agg(n.key order by n.key), '{}'::text[]) into changed
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
comment on function app_hidden.tg__audit() is
  'Trigger: records an insert, update or delete in iam.audit_log (trigger arguments name the key columns of tables '
  'without an id). Security definer because nobody may write the audit log directly.';
