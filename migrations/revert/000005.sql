--! Reverts: sha1:ec43026f44759264845358e59172edd35205397b

-- Reverts 000005 (performance from the benchmarks): back to the schema of 000004. No data is lost
-- (it changed functions and indexes only); the per-transaction tenant check is as slow as before.
-- Function definitions below are copied from the migrations that last defined them (000001, 000003, 000004).

drop trigger _050_forget_verified_member on iam.organisation_users;
drop trigger _050_forget_verified_member on iam.organisations;
drop trigger _050_forget_verified_member on app_private.sessions;
drop function app_hidden.tg__forget_verified_member();

create or replace function app_hidden.current_member_role() returns text
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.setting_as_uuid('app.organisation_id');
  member uuid := app_hidden.setting_as_uuid('app.user_id');
  member_role text;
  organisation_status text;
begin
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
  return member_role;
end;
$$;
comment on function app_hidden.current_member_role() is
  'The role of app.user_id in app.organisation_id, failing closed when either is missing, the membership '
  'is not active, the session (app.session_id, when the token has one) was revoked or expired, or the '
  'organisation is suspended. Security definer because it must read memberships and sessions that the '
  'caller cannot.';

create or replace function app_hidden.current_organisation_id() returns uuid
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_hidden.current_member_role();
  return app_hidden.setting_as_uuid('app.organisation_id');
end;
$$;
comment on function app_hidden.current_organisation_id() is
  'The tenant of this transaction, after checking that the current user is an active member of it. '
  'Every tenant policy calls it as `(select app_hidden.current_organisation_id())`.';

create or replace function app_hidden.current_user_id() returns uuid
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_hidden.current_member_role();
  return app_hidden.setting_as_uuid('app.user_id');
end;
$$;
comment on function app_hidden.current_user_id() is
  'The signed-in user of this transaction, after checking that they are an active member of the tenant.';

drop function app_hidden.verify_tenant(text);
drop function app_hidden.tenant_settings_key();

create or replace function outreach.campaigns_performance(campaign outreach.campaigns) returns outreach.performance
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

create or replace function outreach.campaigns_daily_performance(campaign outreach.campaigns, from_day date, to_day date)
  returns setof tracking.campaign_daily_stats
  language sql stable
  set search_path = pg_catalog, pg_temp
as $$
  select d.* from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id
     and d.day between from_day and to_day
   order by d.day;
$$;

create or replace function outreach.step_experiment_variants_performance(variant outreach.step_experiment_variants)
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

-- The indexes as 000002 created them.
drop index crm.idx_people_status;
create index idx_people_status on crm.people (organisation_id, status);
drop index crm.idx_positions_person;
create index idx_positions_person on crm.positions (organisation_id, person_id);
drop index crm.idx_positions_company;
create index idx_positions_company on crm.positions (organisation_id, company_id);
