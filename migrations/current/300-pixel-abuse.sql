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
