-- RLS test helpers, in the spirit of supabase-test-helpers' authenticate_as.
-- They are session-local functions (pg_temp): loading them leaves nothing in the database.
-- Run a script with psql, connected as the database owner (DATABASE_URL):
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f test/rls/helpers.sql -f test/rls/crm-isolation.sql
-- `npm run test:rls` runs every script here the same way against a fresh test database.

-- Act as a member: the visitor role plus the tenant settings, exactly as the server sets them
-- for a request carrying that member's token. Lasts until the end of the transaction.
create or replace function pg_temp.authenticate_as(member_email text, organisation_slug text) returns void
  language plpgsql volatile
as $$
declare
  found_user uuid;
  found_organisation uuid;
begin
  reset role;
  select u.id, o.id into found_user, found_organisation
    from iam.users u
    join iam.organisation_users m on m.user_id = u.id
    join iam.organisations o on o.id = m.organisation_id
   where u.email = member_email and o.slug = organisation_slug;
  if found_user is null then
    raise exception 'authenticate_as: % is not a member of %', member_email, organisation_slug;
  end if;
  perform set_config('app.organisation_id', found_organisation::text, true);
  perform set_config('app.user_id', found_user::text, true);
  perform set_config('role', 'prospectflow_visitor', true);
end;
$$;

-- Act as a request without a token.
create or replace function pg_temp.authenticate_anonymously() returns void
  language plpgsql volatile
as $$
begin
  reset role;
  perform set_config('app.organisation_id', '', true);
  perform set_config('app.user_id', '', true);
  perform set_config('role', 'prospectflow_anonymous', true);
end;
$$;

-- Back to the connected role (the owner), e.g. to build fixtures between assertions.
create or replace function pg_temp.authenticate_as_owner() returns void
  language plpgsql volatile
as $$
begin
  reset role;
end;
$$;

create or replace function pg_temp.assert_equal(actual anyelement, expected anyelement, what text) returns void
  language plpgsql volatile
as $$
begin
  if actual is distinct from expected then
    raise exception 'assertion failed: %: expected %, got %', what, expected, actual;
  end if;
  raise notice 'ok: %', what;
end;
$$;

-- Runs `statement`, which must fail with SQLSTATE `expected_state`; its effects are undone.
create or replace function pg_temp.assert_fails(statement text, expected_state text, what text) returns void
  language plpgsql volatile
as $$
begin
  begin
    execute statement;
  exception when others then
    if sqlstate <> expected_state then
      raise exception 'assertion failed: %: expected SQLSTATE %, got % (%)', what, expected_state, sqlstate, sqlerrm;
    end if;
    raise notice 'ok: %', what;
    return;
  end;
  raise exception 'assertion failed: %: the statement succeeded, expected SQLSTATE %', what, expected_state;
end;
$$;

-- The project revokes EXECUTE from PUBLIC by default, also for these session-local functions;
-- the assertions must stay callable after switching to the visitor or anonymous role.
grant execute on function
  pg_temp.authenticate_as(text, text),
  pg_temp.authenticate_anonymously(),
  pg_temp.authenticate_as_owner(),
  pg_temp.assert_equal(anyelement, anyelement, text),
  pg_temp.assert_fails(text, text, text)
  to public;
