--! Previous: sha1:a858ea8e8049a6e5cab9afce677bcc04215423fe
--! Hash: sha1:4c3b9ba6acbc658e64e4a4adc756813223ca0781
--! Message: Status totals

--! split: 100-status-totals.sql
-- Status counts from maintained totals (issue 12's status-counts scenario: counting a large
-- organisation's people, tasks and messages by status read ~300,000 index entries per request,
-- 20 ms of PostgreSQL). app_private.status_totals holds, per organisation, table and status, the
-- number of rows, split over 8 shards by backend so that concurrent writers of one organisation
-- rarely wait on one counter row; after-row triggers keep it (insert, delete, update of status);
-- peopleStatusCounts, taskStatusCounts and messageStatusCounts sum it for the current
-- organisation. Writes with the triggers off (tenant import, the bench's seed) call
-- app_hidden.recount_status_totals afterwards. Idempotent: the table is rebuilt from the rows.
create table if not exists app_private.status_totals (
  organisation_id uuid not null constraint status_totals_organisation_fk references iam.organisations on delete cascade,
  counted text not null constraint status_totals_counted check (counted in ('people', 'tasks', 'messages')),
  status text not null,
  shard smallint not null,
  total bigint not null,
  primary key (organisation_id, counted, status, shard)
);
alter table app_private.status_totals enable row level security;
comment on table app_private.status_totals is
  'Rows of crm.people, outreach.tasks and outreach.messages per organisation and status, in shards summed by the status count functions; kept by app_hidden.tg__count_statuses, rebuilt by app_hidden.recount_status_totals.';

--! Included app_hidden/tg__count_statuses.sql
-- app_hidden/tg__count_statuses.sql: the current definition of app_hidden.tg__count_statuses. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg__count_statuses.sql).

create or replace function app_hidden.tg__count_statuses()
  returns trigger
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  counted_table text := tg_argv[0];
  -- Concurrent writers of one organisation and status land on different rows most of the time
  -- (a hot counter row would serialise their transactions until each commits).
  writer_shard smallint := (pg_catalog.pg_backend_pid() % 8)::smallint;
begin
  -- Deleting an organisation deletes its totals too (on delete cascade): its rows' deletes after
  -- that have nothing left to count down.
  if tg_op = 'DELETE' and not exists (select 1 from iam.organisations o where o.id = old.organisation_id) then
    return null;
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    insert into app_private.status_totals as t (organisation_id, counted, status, shard, total)
    values (old.organisation_id, counted_table, old.status, writer_shard, -1)
    on conflict (organisation_id, counted, status, shard) do update set total = t.total - 1;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into app_private.status_totals as t (organisation_id, counted, status, shard, total)
    values (new.organisation_id, counted_table, new.status, writer_shard, 1)
    on conflict (organisation_id, counted, status, shard) do update set total = t.total + 1;
  end if;
  return null;
end;
$function$;
comment on function app_hidden.tg__count_statuses() is 'Trigger function (after insert, delete, and update of status): keeps app_private.status_totals equal to the rows of the table it is on (its argument: people, tasks or messages) per organisation and status.';
revoke all on function app_hidden.tg__count_statuses() from public;
--! EndIncluded app_hidden/tg__count_statuses.sql
--! Included app_hidden/recount_status_totals.sql
-- app_hidden/recount_status_totals.sql: the current definition of app_hidden.recount_status_totals. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/recount_status_totals.sql).

create or replace function app_hidden.recount_status_totals(organisation uuid)
  returns void
  language sql
  volatile
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  -- Counts again from the rows: after writing with the triggers off (tenant import, the bench's
  -- seed), or to repair. One organisation, or every one when organisation is null.
  delete from app_private.status_totals t where organisation is null or t.organisation_id = organisation;
  insert into app_private.status_totals (organisation_id, counted, status, shard, total)
  select r.organisation_id, r.counted, r.status, 0, count(*)
    from (select p.organisation_id, 'people' as counted, p.status from crm.people p
           where organisation is null or p.organisation_id = organisation
          union all
          select t.organisation_id, 'tasks', t.status from outreach.tasks t
           where organisation is null or t.organisation_id = organisation
          union all
          select m.organisation_id, 'messages', m.status from outreach.messages m
           where organisation is null or m.organisation_id = organisation) as r
   group by r.organisation_id, r.counted, r.status;
$function$;
comment on function app_hidden.recount_status_totals(organisation uuid) is 'Rebuilds app_private.status_totals from the rows of crm.people, outreach.tasks and outreach.messages: for one organisation, or all of them when null. For the owner only (tenant import, seeding, repair).';
revoke all on function app_hidden.recount_status_totals(organisation uuid) from public;
--! EndIncluded app_hidden/recount_status_totals.sql

drop trigger if exists _400_count_statuses on crm.people;
create trigger _400_count_statuses
  after insert or delete or update of status, organisation_id on crm.people
  for each row execute function app_hidden.tg__count_statuses('people');
drop trigger if exists _400_count_statuses on outreach.tasks;
create trigger _400_count_statuses
  after insert or delete or update of status, organisation_id on outreach.tasks
  for each row execute function app_hidden.tg__count_statuses('tasks');
drop trigger if exists _400_count_statuses on outreach.messages;
create trigger _400_count_statuses
  after insert or delete or update of status, organisation_id on outreach.messages
  for each row execute function app_hidden.tg__count_statuses('messages');

select app_hidden.recount_status_totals(null);

--! Included crm/people_status_counts.sql
-- crm/people_status_counts.sql: the current definition of crm.people_status_counts. Change the function by
-- editing this file and including it from the current migration (--!include crm/people_status_counts.sql).

create or replace function crm.people_status_counts()
  returns setof crm.person_status_count
  language sql
  stable
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  -- From the totals the triggers keep (app_private.status_totals), not by counting the rows: a
  -- large organisation's 100,000 rows cost ~7 ms to count per status list. Only the current
  -- organisation's (the definer is not subject to RLS: the filter is explicit).
  select s.value,
         coalesce((select sum(t.total) from app_private.status_totals t
                    where t.organisation_id = (select app_hidden.current_organisation_id())
                      and t.counted = 'people' and t.status = s.value), 0)::integer
    from reference.person_statuses s
   order by s.sort_order;
$function$;
comment on function crm.people_status_counts() is '@behavior -connection +list
@listSuffix omit
Your organisation''s people counted by status (every status, 0 when none).';
revoke all on function crm.people_status_counts() from public;
grant execute on function crm.people_status_counts() to :DATABASE_VISITOR;
--! EndIncluded crm/people_status_counts.sql
--! Included outreach/task_status_counts.sql
-- outreach/task_status_counts.sql: the current definition of outreach.task_status_counts. Change the function by
-- editing this file and including it from the current migration (--!include outreach/task_status_counts.sql).

create or replace function outreach.task_status_counts()
  returns setof outreach.task_status_count
  language sql
  stable
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  -- From the totals the triggers keep (app_private.status_totals), not by counting the rows: a
  -- large organisation's 100,000 rows cost ~7 ms to count per status list. Only the current
  -- organisation's (the definer is not subject to RLS: the filter is explicit).
  select s.value,
         coalesce((select sum(t.total) from app_private.status_totals t
                    where t.organisation_id = (select app_hidden.current_organisation_id())
                      and t.counted = 'tasks' and t.status = s.value), 0)::integer
    from reference.task_statuses s
   order by s.sort_order;
$function$;
comment on function outreach.task_status_counts() is '@behavior -connection +list
@listSuffix omit
Your organisation''s tasks counted by status (every status, 0 when none).';
revoke all on function outreach.task_status_counts() from public;
grant execute on function outreach.task_status_counts() to :DATABASE_VISITOR;
--! EndIncluded outreach/task_status_counts.sql
--! Included outreach/message_status_counts.sql
-- outreach/message_status_counts.sql: the current definition of outreach.message_status_counts. Change the function by
-- editing this file and including it from the current migration (--!include outreach/message_status_counts.sql).

create or replace function outreach.message_status_counts()
  returns setof outreach.message_status_count
  language sql
  stable
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  -- From the totals the triggers keep (app_private.status_totals), not by counting the rows: a
  -- large organisation's 100,000 rows cost ~7 ms to count per status list. Only the current
  -- organisation's (the definer is not subject to RLS: the filter is explicit).
  select s.value,
         coalesce((select sum(t.total) from app_private.status_totals t
                    where t.organisation_id = (select app_hidden.current_organisation_id())
                      and t.counted = 'messages' and t.status = s.value), 0)::integer
    from reference.message_statuses s
   order by s.sort_order;
$function$;
comment on function outreach.message_status_counts() is '@behavior -connection +list
@listSuffix omit
Your organisation''s messages counted by status (every status, 0 when none).';
revoke all on function outreach.message_status_counts() from public;
grant execute on function outreach.message_status_counts() to :DATABASE_VISITOR;
--! EndIncluded outreach/message_status_counts.sql
