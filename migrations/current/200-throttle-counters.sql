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
