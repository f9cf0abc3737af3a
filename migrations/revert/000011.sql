--! Reverts: sha1:a858ea8e8049a6e5cab9afce677bcc04215423fe

-- Reverts 000011 (status counts name the organisation): loses no data.

--------------------------------------------------------------------------------
-- Revert part of migrations/current/100-status-counts-name-the-organisation.sql: loses no data. The
-- three grouped counts go back to counting whatever RLS lets them see (their 000009 bodies).

-- crm/people_status_counts.sql as 000009 left it
create or replace function crm.people_status_counts()
  returns setof crm.person_status_count
  language sql
  stable
as $function$
  select s.value, (select count(*) from crm.people p where p.status = s.value)::integer
    from reference.person_statuses s
   order by s.sort_order;
$function$;

-- outreach/task_status_counts.sql as 000009 left it
create or replace function outreach.task_status_counts()
  returns setof outreach.task_status_count
  language sql
  stable
as $function$
  select s.value, (select count(*) from outreach.tasks t where t.status = s.value)::integer
    from reference.task_statuses s
   order by s.sort_order;
$function$;

-- outreach/message_status_counts.sql as 000009 left it
create or replace function outreach.message_status_counts()
  returns setof outreach.message_status_count
  language sql
  stable
as $function$
  select s.value, (select count(*) from outreach.messages m where m.status = s.value)::integer
    from reference.message_statuses s
   order by s.sort_order;
$function$;
