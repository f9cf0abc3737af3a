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
