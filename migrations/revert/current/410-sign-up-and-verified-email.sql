-- Loses no data (the verification and reset links are in 400's app_private.tokens); slugs drawn with a random suffix stay as they are.
-- Revert part of migrations/current/410-sign-up-and-verified-email.sql (see README, "Migrations:
-- rolling one back"): drops the mail helpers, verifyEmail, the password reset, the operator's
-- create_verified_organisation, create_organisation and the six-argument register, re-creates
-- register(text, text, text, integer) and unique_slug as 000004 defined them (with their comments
-- and register's grant), and puts back 000004's check_password and login (same signatures: create
-- or replace keeps their grants) with their comments. After the revert, 000004's rules apply again:
-- an account whose email was never verified can sign in with its password, sign-up opens a session
-- at once and refuses a taken email, and passwords up to 200 characters are accepted again.
drop function app_hidden.register(text, text, text, text, text, integer);
drop function app_hidden.create_verified_organisation(text, text, text);
drop function app_hidden.reset_password(text, text);
drop function app_hidden.request_password_reset(text);
drop function app_hidden.verify_email(text);
drop function app_hidden.user_token(text, text);
drop function app_hidden.create_organisation(text);
drop function app_hidden.queue_mail(text, text, text, jsonb, uuid, uuid);
drop function app_hidden.display_name(uuid);
drop function app_hidden.organisation_locale(uuid);

create or replace function app_hidden.check_password(password text, email text) returns void
  language plpgsql immutable
  set search_path = pg_catalog, pg_temp
as $$
begin
  if password is null or length(password) < 10 then
    raise exception 'Weak password: use at least 10 characters' using errcode = 'PT020';
  end if;
  if length(password) > 200 then
    raise exception 'Weak password: use at most 200 characters' using errcode = 'PT020';
  end if;
  if password !~ '[A-Za-z]' or password !~ '[^A-Za-z]' then
    raise exception 'Weak password: mix letters with digits or symbols' using errcode = 'PT020';
  end if;
  if position(lower(split_part(email, '@', 1)) in lower(password)) > 0 then
    raise exception 'Weak password: it must not contain your email address' using errcode = 'PT020';
  end if;
end;
$$;
comment on function app_hidden.check_password(text, text) is 'The password rules: 10 to 200 characters, letters and non-letters, not containing the email''s name.';

create function app_hidden.unique_slug(organisation_name text) returns text
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  base text := left(trim(both '-' from regexp_replace(lower(organisation_name), '[^a-z0-9]+', '-', 'g')), 80);
  candidate text;
  suffix integer := 1;
begin
  if base = '' then base := 'organisation'; end if;
  candidate := base;
  while exists (select 1 from iam.organisations o where o.slug = candidate) loop
    suffix := suffix + 1;
    candidate := base || '-' || suffix;
  end loop;
  return candidate;
end;
$$;
comment on function app_hidden.unique_slug(text) is 'A URL-safe slug from an organisation name, numbered (-2, -3…) until unused.';

create function app_hidden.register(email text, password text, organisation_name text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  new_user uuid;
  existing_user uuid;
  has_password boolean;
  new_organisation uuid;
begin
  email := trim(email);
  if email is null or email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(email) > 255 then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  if organisation_name is null or length(trim(organisation_name)) not between 1 and 200 then
    raise exception 'Invalid input: the organisation name must be 1 to 200 characters' using errcode = '22023';
  end if;
  perform app_hidden.check_password(password, email);
  -- operator(public.=): citext's case-insensitive equality, not found through the pinned search_path.
  select u.id, s.password_hash is not null into existing_user, has_password
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) register.email::public.citext;
  if has_password then
    raise exception 'Already exists: an account with this email already exists; sign in instead' using errcode = 'PT021';
  end if;
  if existing_user is not null then
    -- Someone invited this email: signing up completes that account and accepts its invitations.
    new_user := existing_user;
    update iam.organisation_users m set status = 'active' where m.user_id = new_user and m.status = 'invited';
  else
    insert into iam.users (email) values (register.email) returning id into new_user;
  end if;
  perform app_hidden.set_password(new_user, password);
  insert into iam.organisations (name, slug) values (trim(organisation_name), app_hidden.unique_slug(organisation_name))
  returning id into new_organisation;
  insert into iam.organisation_users (organisation_id, user_id, role) values (new_organisation, new_user, 'owner');
  return app_hidden.start_session(new_user, new_organisation, lifetime_seconds);
end;
$$;
comment on function app_hidden.register(text, text, text, integer) is
  'Sign-up in one transaction: the user (or an invited user''s account), a new organisation with a unique slug, '
  'the owner membership and a session. Security definer because it runs for anonymous callers.';
grant execute on function app_hidden.register(text, text, text, integer) to :DATABASE_ANONYMOUS, :DATABASE_VISITOR;

create or replace function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_user uuid;
  stored_hash text;
  -- A bcrypt hash of nothing anyone knows: unknown emails are hashed against it, so that a wrong
  -- email and a wrong password take the same path and the same time.
  decoy_hash constant text := '$2a$10$4yKkRrbZHa6kr4uJkWg.UeT4Cc2C1ZKZ1nLHj6mZ9bq9xXyG5sF1m';
  password_matches boolean;
  memberships record;
  chosen uuid;
  chosen_status text;
begin
  select u.id, s.password_hash into found_user, stored_hash
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) trim(coalesce(login.email, ''))::public.citext;
  password_matches := public.crypt(coalesce(password, ''), coalesce(stored_hash, decoy_hash)) = coalesce(stored_hash, decoy_hash)
                      and stored_hash is not null;
  if not password_matches then
    raise exception 'Invalid email or password' using errcode = 'PT030';
  end if;
  if organisation_slug is not null then
    select o.id, o.status into chosen, chosen_status
      from iam.organisation_users m join iam.organisations o on o.id = m.organisation_id
     where m.user_id = found_user and m.status = 'active' and o.slug = organisation_slug;
    if chosen is null then
      raise exception 'Unknown organisation: you are not an active member of an organisation named "%"', organisation_slug
        using errcode = 'PT031';
    end if;
  else
    select count(*) as active, min(o.id::text)::uuid as only_one, min(o.status) as status,
           string_agg(o.slug, ', ' order by o.slug) as slugs
      into memberships
      from iam.organisation_users m join iam.organisations o on o.id = m.organisation_id
     where m.user_id = found_user and m.status = 'active';
    if memberships.active = 0 then
      raise exception 'No organisation: you are not an active member of any organisation' using errcode = 'PT031';
    end if;
    if memberships.active > 1 then
      raise exception 'Choose an organisation: you belong to several (%)', memberships.slugs using errcode = 'PT032';
    end if;
    chosen := memberships.only_one;
    chosen_status := memberships.status;
  end if;
  if chosen_status <> 'active' then
    raise exception 'Organisation suspended: its members cannot use it until it is reactivated' using errcode = 'PT006';
  end if;
  return app_hidden.start_session(found_user, chosen, lifetime_seconds);
end;
$$;
comment on function app_hidden.login(text, text, text, integer) is
  'Checks email and password (the same answer and the same bcrypt work whether the email exists or not) and opens a '
  'session in the named organisation, or the only one. Security definer because it runs for anonymous callers.';
