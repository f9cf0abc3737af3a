--! Previous: sha1:fd27dff8e9b97efed20fea0bad5f32780612a135
--! Hash: sha1:a858ea8e8049a6e5cab9afce677bcc04215423fe
--! Message: Status counts name the organisation

--! split: 100-status-counts-name-the-organisation.sql
-- The grouped counts (peopleStatusCounts, taskStatusCounts, messageStatusCounts) name the
-- organisation they count, `organisation_id = (select app_hidden.current_organisation_id())`, as
-- outreach.daily_totals already does, instead of relying on RLS alone: the same answer under RLS
-- (the policy adds the same condition), the right answer for a role that bypasses RLS (the
-- bench's variant b; an owner's maintenance session), and the (organisation_id, status) index
-- led by a condition the planner sees in the function's own text.
--! Included crm/people_status_counts.sql
-- crm/people_status_counts.sql: the current definition of crm.people_status_counts. Change the function by
-- editing this file and including it from the current migration (--!include crm/people_status_counts.sql).

create or replace function crm.people_status_counts()
  returns setof crm.person_status_count
  language sql
  stable
as $function$
  select s.value, (select count(*) from crm.people p
           where p.organisation_id = (select app_hidden.current_organisation_id()) and p.status = s.value)::integer
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
as $function$
  select s.value, (select count(*) from outreach.tasks t
           where t.organisation_id = (select app_hidden.current_organisation_id()) and t.status = s.value)::integer
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
as $function$
  select s.value, (select count(*) from outreach.messages m
           where m.organisation_id = (select app_hidden.current_organisation_id()) and m.status = s.value)::integer
    from reference.message_statuses s
   order by s.sort_order;
$function$;
comment on function outreach.message_status_counts() is '@behavior -connection +list
@listSuffix omit
Your organisation''s messages counted by status (every status, 0 when none).';
revoke all on function outreach.message_status_counts() from public;
grant execute on function outreach.message_status_counts() to :DATABASE_VISITOR;
--! EndIncluded outreach/message_status_counts.sql
