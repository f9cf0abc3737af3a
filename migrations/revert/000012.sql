--! Reverts: sha1:4c3b9ba6acbc658e64e4a4adc756813223ca0781

-- Reverts 000012 (status totals): loses no data (the totals are derived from the rows).

--------------------------------------------------------------------------------
-- Revert part of migrations/current/100-status-totals.sql: loses no data (the totals are derived
-- from the rows). Drops the triggers, the two functions and the table; the three count functions
-- count the rows again (000011's bodies).
drop trigger if exists _400_count_statuses on crm.people;
drop trigger if exists _400_count_statuses on outreach.tasks;
drop trigger if exists _400_count_statuses on outreach.messages;
drop function if exists app_hidden.tg__count_statuses();
drop function if exists app_hidden.recount_status_totals(uuid);
drop table if exists app_private.status_totals;

-- crm/people_status_counts.sql as 000011 left it
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

-- outreach/task_status_counts.sql as 000011 left it
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

-- outreach/message_status_counts.sql as 000011 left it
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
