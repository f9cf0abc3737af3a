--! Previous: sha1:f08e691ebbc00bff2bfbaf19cdfcce6902b5ed47
--! Hash: sha1:ec43026f44759264845358e59172edd35205397b
--! Message: performance from the benchmarks

-- Performance from the benchmarks (issue #6, bench/): what `npm run bench` and `npm run
-- bench:explain` showed on the seeded data sets, and the fixes.
-- Idempotent: it drops what it creates, so `graphile-migrate watch` can run it again and again.

--------------------------------------------------------------------------------
-- 1. The tenant check runs once per transaction, not once per policy evaluation.
--
-- Every policy calls (select app_hidden.current_organisation_id()): once per statement, but a
-- statement that calls a function per row (the dashboard's computed columns) runs the function's
-- own statement, and its policies, per row. Each check read the session, the membership and the
-- organisation through two PL/pgSQL functions: about 40 µs, 36 times for one dashboard request.
-- Now current_member_role() keeps its verified result in a transaction-local setting, keyed by
-- the three tenant settings it was computed from, and current_organisation_id() and
-- current_user_id() are SQL functions whose fast path (that key matches) PostgreSQL inlines into
-- the policy's InitPlan: a few setting reads, no function call. Anything that changes
-- memberships, organisations or sessions clears the kept result (statement triggers below), so
-- a change made in the same transaction is still seen by the next statement, and other
-- transactions' changes at the next request, as before. Like the tenant settings it is keyed
-- by, the kept value is trusted because only the server sets settings (transaction-local, from
-- a verified token): a GraphQL client cannot set any.

drop trigger if exists _050_forget_verified_member on iam.organisation_users;
drop trigger if exists _050_forget_verified_member on iam.organisations;
drop trigger if exists _050_forget_verified_member on app_private.sessions;
drop function if exists app_hidden.tg__forget_verified_member();

-- The key of a verified check: the tenant settings as the server set them.
create or replace function app_hidden.tenant_settings_key() returns text
  language sql stable
as $$
  select coalesce(pg_catalog.current_setting('app.organisation_id', true), '') || '/' ||
         coalesce(pg_catalog.current_setting('app.user_id', true), '') || '/' ||
         coalesce(pg_catalog.current_setting('app.session_id', true), '')
$$;
comment on function app_hidden.tenant_settings_key() is
  'The tenant settings (organisation, user, session) as one text: what a verified tenant check is valid for. '
  'A verified key holds two UUIDs and a UUID or nothing, so it never matches settings that were not verified.';

create or replace function app_hidden.current_member_role() returns text
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  verified_for text := app_hidden.tenant_settings_key();
  verified text := current_setting('app_hidden.verified_member', true);
  organisation uuid;
  member uuid;
  member_role text;
  organisation_status text;
begin
  -- Nothing verified yet (null, or '' once forgotten or in a new transaction) never matches.
  if nullif(split_part(verified, '=', 1), '') = verified_for then
    return split_part(verified, '=', 2);
  end if;
  organisation := app_hidden.setting_as_uuid('app.organisation_id');
  member := app_hidden.setting_as_uuid('app.user_id');
  -- Tokens signed at login name a session; it must still be open. (Nested: SQL's AND does not
  -- promise to evaluate its left side first.)
  if nullif(current_setting('app.session_id', true), '') is not null then
    if not exists (
      select 1 from app_private.sessions s
       where s.id = app_hidden.setting_as_uuid('app.session_id') and s.user_id = member
         and s.organisation_id = organisation and s.revoked_at is null and s.expires_at > now()
    ) then
      raise exception 'Session ended: this token''s session was signed out or has expired; sign in again'
        using errcode = 'PT005';
    end if;
  end if;
  select m.role, o.status into member_role, organisation_status
    from iam.organisation_users m
    join iam.organisations o on o.id = m.organisation_id
   where m.organisation_id = organisation and m.user_id = member and m.status = 'active';
  if member_role is null then
    raise exception 'Not a member: this user is not an active member of this organisation'
      using errcode = 'PT003';
  end if;
  if organisation_status <> 'active' then
    raise exception 'Organisation suspended: its members cannot use it until it is reactivated'
      using errcode = 'PT006';
  end if;
  -- Only well-formed settings get here (setting_as_uuid), so the key holds no '='.
  perform set_config('app_hidden.verified_member', verified_for || '=' || member_role, true);
  return member_role;
end;
$$;
comment on function app_hidden.current_member_role() is
  'The role of app.user_id in app.organisation_id, failing closed when either is missing, the membership is not '
  'active, the session (app.session_id, when the token has one) was revoked or expired, or the organisation is '
  'suspended. The result is kept for the rest of the transaction (app_hidden.verified_member, keyed by '
  'app_hidden.tenant_settings_key()) and forgotten when memberships, organisations or sessions change. Security '
  'definer because it must read memberships and sessions that the caller cannot.';

-- The slow path of current_organisation_id() and current_user_id(): the full check, then the setting as a UUID.
create or replace function app_hidden.verify_tenant(setting_name text) returns uuid
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_hidden.current_member_role();
  return app_hidden.setting_as_uuid(setting_name);
end;
$$;
comment on function app_hidden.verify_tenant(text) is
  'Checks the tenant context (app_hidden.current_member_role, failing closed) and returns the named setting as a UUID.';
grant execute on function app_hidden.tenant_settings_key(), app_hidden.verify_tenant(text) to :DATABASE_VISITOR;

create or replace function app_hidden.current_organisation_id() returns uuid
  language sql stable
as $$
  select case
           when nullif(pg_catalog.split_part(pg_catalog.current_setting('app_hidden.verified_member', true), '=', 1), '')
                = app_hidden.tenant_settings_key()
             then pg_catalog.current_setting('app.organisation_id', true)::uuid
           else app_hidden.verify_tenant('app.organisation_id')
         end
$$;
comment on function app_hidden.current_organisation_id() is
  'The tenant of this transaction, after checking that the current user is an active member of it (once per '
  'transaction: see app_hidden.current_member_role). Every tenant policy calls it as '
  '`(select app_hidden.current_organisation_id())`; its fast path is inlined into that InitPlan.';

create or replace function app_hidden.current_user_id() returns uuid
  language sql stable
as $$
  select case
           when nullif(pg_catalog.split_part(pg_catalog.current_setting('app_hidden.verified_member', true), '=', 1), '')
                = app_hidden.tenant_settings_key()
             then pg_catalog.current_setting('app.user_id', true)::uuid
           else app_hidden.verify_tenant('app.user_id')
         end
$$;
comment on function app_hidden.current_user_id() is
  'The signed-in user of this transaction, after checking that they are an active member of the tenant (once per '
  'transaction: see app_hidden.current_member_role).';

create function app_hidden.tg__forget_verified_member() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
begin
  perform set_config('app_hidden.verified_member', '', true);
  return null;
end;
$$;
comment on function app_hidden.tg__forget_verified_member() is
  'Trigger: a membership, organisation or session changed, so the tenant check verified earlier in this '
  'transaction (app_hidden.current_member_role) is made again at the next statement.';

create trigger _050_forget_verified_member after insert or update or delete on iam.organisation_users
  for each statement execute function app_hidden.tg__forget_verified_member();
create trigger _050_forget_verified_member after update or delete on iam.organisations
  for each statement execute function app_hidden.tg__forget_verified_member();
create trigger _050_forget_verified_member after update or delete on app_private.sessions
  for each statement execute function app_hidden.tg__forget_verified_member();

--------------------------------------------------------------------------------
-- 2. The dashboard's computed columns: no pinned search_path (they are security invoker and
-- name every table with its schema), so PostgreSQL can inline dailyPerformance into the query
-- that asks for it, and calls the other two without switching search_path per row.

create or replace function outreach.campaigns_performance(campaign outreach.campaigns) returns outreach.performance
  language sql stable
as $$
  select coalesce(sum(d.enrolled), 0)::bigint, coalesce(sum(d.emails_sent), 0)::bigint,
         coalesce(sum(d.emails_opened), 0)::bigint, coalesce(sum(d.emails_replied), 0)::bigint,
         round(sum(d.emails_opened)::numeric / nullif(sum(d.emails_sent), 0), 4),
         round(sum(d.emails_replied)::numeric / nullif(sum(d.emails_sent), 0), 4)
    from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id;
$$;

create or replace function outreach.campaigns_daily_performance(campaign outreach.campaigns, from_day date, to_day date)
  returns setof tracking.campaign_daily_stats
  language sql stable
as $$
  select d.* from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id
     and d.day between from_day and to_day
   order by d.day;
$$;

create or replace function outreach.step_experiment_variants_performance(variant outreach.step_experiment_variants)
  returns outreach.performance
  language sql stable
as $$
  select coalesce(s.assigned, 0), coalesce(s.emails_sent, 0), coalesce(s.emails_opened, 0), coalesce(s.emails_replied, 0),
         round(s.emails_opened::numeric / nullif(s.emails_sent, 0), 4),
         round(s.emails_replied::numeric / nullif(s.emails_sent, 0), 4)
    from (select 1) as one
    left join tracking.variant_stats s on s.organisation_id = variant.organisation_id and s.variant_id = variant.id;
$$;

--------------------------------------------------------------------------------
-- 3. Indexes that return pages in the order PostGraphile asks for (primary key order within
-- the organisation, after the filter or the parent): a page of 50 reads 50 index entries
-- instead of every matching row followed by a sort. Under RLS the planner does not know which
-- organisation a statement reads, so it cannot tell a large one from a small one; these indexes
-- make the cheap plan the only plausible one. They still serve the same foreign keys and filters.

drop index if exists crm.idx_people_status;
create index idx_people_status on crm.people (organisation_id, status, id);
drop index if exists crm.idx_positions_person;
create index idx_positions_person on crm.positions (organisation_id, person_id, id);
drop index if exists crm.idx_positions_company;
create index idx_positions_company on crm.positions (organisation_id, company_id, id);
