-- Membership by consent (issue 11), part 2: queueing mail, sign-up that answers the same for a
-- taken email, verified email, password reset, login of verified accounts only, and organisation
-- slugs that neither race nor count (issue 10 item 5). Passwords longer than bcrypt's 72 bytes
-- are refused (WEAK_PASSWORD), not silently cut.
-- Idempotent: it drops what it creates, then creates or replaces.

drop function if exists app_hidden.register(text, text, text, integer);
drop function if exists app_hidden.register(text, text, text, text, text, integer);
drop function if exists app_hidden.unique_slug(text);
drop function if exists app_hidden.create_organisation(text);
drop function if exists app_hidden.create_verified_organisation(text, text, text);
drop function if exists app_hidden.verify_email(text);
drop function if exists app_hidden.request_password_reset(text);
drop function if exists app_hidden.reset_password(text, text);
drop function if exists app_hidden.queue_mail(text, text, text, jsonb, uuid, uuid);
drop function if exists app_hidden.organisation_locale(uuid);
drop function if exists app_hidden.user_token(text, text);
drop function if exists app_hidden.display_name(uuid);

--------------------------------------------------------------------------------
-- Mail: helpers every event uses to queue its message in its own transaction.

create function app_hidden.organisation_locale(organisation uuid) returns text
  language sql stable
  set search_path = pg_catalog, pg_temp
as $$
  select case when o.country_code in ('FR', 'BE', 'CH', 'LU', 'MC') then 'fr' else 'en' end
    from iam.organisations o where o.id = organisation
$$;
comment on function app_hidden.organisation_locale(uuid) is
  'The language of mail sent on behalf of an organisation: French for French-speaking countries, English otherwise.';

create function app_hidden.display_name(user_id uuid) returns text
  language sql stable
  set search_path = pg_catalog, pg_temp
as $$
  select coalesce(nullif(trim(concat_ws(' ', u.first_name, u.last_name)), ''), u.email::text)
    from iam.users u where u.id = display_name.user_id
$$;
comment on function app_hidden.display_name(uuid) is 'How a member is named in mail: first and last name, or their email.';

create function app_hidden.queue_mail(kind text, recipient text, locale text, params jsonb, organisation uuid, token uuid)
  returns uuid
  language sql volatile
  set search_path = pg_catalog, pg_temp
as $$
  insert into app_private.mail_outbox (kind, recipient, locale, params, organisation_id, token_id)
  values (kind, recipient, coalesce(locale, 'en'), coalesce(params, '{}'), organisation, token)
  returning id
$$;
comment on function app_hidden.queue_mail(text, text, text, jsonb, uuid, uuid) is
  'Queues a message in the outbox, in the caller''s transaction: it is sent if and only if the event commits.';

--------------------------------------------------------------------------------
-- Passwords and organisations.

create or replace function app_hidden.check_password(password text, email text) returns void
  language plpgsql immutable
  set search_path = pg_catalog, pg_temp
as $$
begin
  if password is null or length(password) < 10 then
    raise exception 'Weak password: use at least 10 characters' using errcode = 'PT020';
  end if;
  -- bcrypt reads only the first 72 bytes: a longer password would be cut without anyone knowing.
  if octet_length(password) > 72 then
    raise exception 'Weak password: use at most 72 bytes (about 72 letters or digits; accented letters and emoji count 2 to 4)'
      using errcode = 'PT020';
  end if;
  if password !~ '[A-Za-z]' or password !~ '[^A-Za-z]' then
    raise exception 'Weak password: mix letters with digits or symbols' using errcode = 'PT020';
  end if;
  if position(lower(split_part(email, '@', 1)) in lower(password)) > 0 then
    raise exception 'Weak password: it must not contain your email address' using errcode = 'PT020';
  end if;
end;
$$;
comment on function app_hidden.check_password(text, text) is
  'The password rules: 10 characters to 72 bytes (bcrypt''s limit), letters and non-letters, not containing the email''s name.';

create function app_hidden.create_organisation(organisation_name text) returns uuid
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  base text := left(trim(both '-' from regexp_replace(lower(organisation_name), '[^a-z0-9]+', '-', 'g')), 80);
  candidate text;
  created uuid;
begin
  if base = '' then base := 'organisation'; end if;
  candidate := base;
  loop
    -- ON CONFLICT waits for a concurrent sign-up holding the same slug, then tries the next
    -- candidate instead of failing; a random suffix says nothing about how many share the name.
    insert into iam.organisations (name, slug) values (trim(organisation_name), candidate)
    on conflict (slug) do nothing
    returning id into created;
    exit when created is not null;
    candidate := base || '-' || substr(encode(public.gen_random_bytes(4), 'hex'), 1, 6);
  end loop;
  return created;
end;
$$;
comment on function app_hidden.create_organisation(text) is
  'Creates an organisation with a URL-safe slug from its name (the name itself, or the name and a random suffix when '
  'taken); safe under concurrent sign-ups with one name.';

--------------------------------------------------------------------------------
-- Sign-up.

create function app_hidden.register(
  email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer
) returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  address text := trim(email);
  chosen_locale text := nullif(trim(locale), '');
  existing_user uuid;
  existing_hash text;
  existing_verified boolean;
  new_user uuid;
  new_organisation uuid;
  token uuid;
  invitation iam.invitations;
  nothing app_hidden.session_grant;
begin
  if address is null or address !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(address) > 255 then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  if chosen_locale is not null and chosen_locale not in ('en', 'fr') then
    raise exception 'Invalid input: locale must be en or fr' using errcode = '22023';
  end if;

  if invitation_token is not null then
    -- Through an invitation: the link proves the mailbox, so the account is verified at once.
    invitation := app_hidden.open_invitation(invitation_token);
    if invitation.email operator(public.<>) address::public.citext then
      raise exception 'Invitation invalid: this invitation was sent to another email address' using errcode = 'PT040';
    end if;
    if organisation_name is not null then
      raise exception 'Invalid input: leave organisationName out when signing up with an invitation (you join the inviting organisation)'
        using errcode = '22023';
    end if;
    select u.id, s.password_hash, u.email_verified_at is not null into existing_user, existing_hash, existing_verified
      from iam.users u left join app_private.user_secrets s on s.user_id = u.id
     where u.email operator(public.=) address::public.citext
     for update of u;
    if existing_hash is not null and existing_verified then
      -- A verified account exists: only its own password may join it (nobody else's account is touched).
      if public.crypt(coalesce(password, ''), existing_hash) <> existing_hash then
        raise exception 'Already exists: an account with this email exists; sign in and use acceptInvitation, or reset its password'
          using errcode = 'PT021';
      end if;
      new_user := existing_user;
    else
      perform app_hidden.check_password(password, address);
      if existing_user is null then
        insert into iam.users (email, locale) values (address, chosen_locale) returning id into new_user;
      else
        -- An account nobody ever proved this mailbox for (a squat, or the holder's own unconfirmed
        -- sign-up): the link proves it now, so its holder sets the password. It never signed in.
        new_user := existing_user;
        update app_private.sessions s set revoked_at = now() where s.user_id = new_user and s.revoked_at is null;
      end if;
      perform app_hidden.set_password(new_user, password);
    end if;
    update iam.users u set email_verified_at = coalesce(u.email_verified_at, now()) where u.id = new_user;
    perform app_hidden.join_invitation(invitation, new_user);
    return app_hidden.start_session(new_user, invitation.organisation_id, lifetime_seconds);
  end if;

  if organisation_name is null or length(trim(organisation_name)) not between 1 and 200 then
    raise exception 'Invalid input: the organisation name must be 1 to 200 characters' using errcode = '22023';
  end if;
  perform app_hidden.check_password(password, address);
  -- operator(public.=): citext's case-insensitive equality, not found through the pinned search_path.
  insert into iam.users (email, locale) values (address, chosen_locale)
  on conflict (email) do nothing
  returning id into new_user;
  if new_user is null then
    -- Taken: the same answer as a new account, the same bcrypt work, and a notice to the address's
    -- owner instead of a verification link. Nothing about the existing account changes.
    perform public.crypt(coalesce(password, ''), public.gen_salt('bf', 10));
    -- At most one notice per address per hour: signing up with somebody's address again and again
    -- must not flood their mailbox.
    perform app_hidden.queue_mail('account_exists', u.email, coalesce(u.locale, chosen_locale), '{}', null, null)
       from iam.users u
      where u.email operator(public.=) address::public.citext
        and not exists (
          select 1 from app_private.mail_outbox b
           where b.kind = 'account_exists' and b.recipient operator(public.=) u.email
             and b.created_at > now() - interval '1 hour');
    return nothing;
  end if;
  perform app_hidden.set_password(new_user, password);
  new_organisation := app_hidden.create_organisation(organisation_name);
  insert into iam.organisation_users (organisation_id, user_id, role) values (new_organisation, new_user, 'owner');
  insert into app_private.tokens (purpose, user_id, expires_at) values ('verify_email', new_user, now() + interval '2 days')
  returning id into token;
  perform app_hidden.queue_mail('email_verification', address, chosen_locale,
    jsonb_build_object('organisationName', trim(organisation_name)), null, token);
  return nothing;
end;
$$;
comment on function app_hidden.register(text, text, text, text, text, integer) is
  'Sign-up. Without an invitation: a new, unverified account with its own organisation and a verification mail, '
  'or, for a taken email, only a notice to its owner; both return no session and look the same. With an invitation '
  'token: a verified account (or the existing one, with its password) joins the inviting organisation and gets a '
  'session. Security definer because it runs for anonymous callers.';

create or replace function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_user uuid;
  stored_hash text;
  verified boolean;
  -- A bcrypt hash of nothing anyone knows: unknown emails are hashed against it, so that a wrong
  -- email and a wrong password take the same path and the same time.
  decoy_hash constant text := '$2a$10$4yKkRrbZHa6kr4uJkWg.UeT4Cc2C1ZKZ1nLHj6mZ9bq9xXyG5sF1m';
  password_matches boolean;
  memberships record;
  chosen uuid;
  chosen_status text;
begin
  select u.id, s.password_hash, u.email_verified_at is not null into found_user, stored_hash, verified
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) trim(coalesce(login.email, ''))::public.citext;
  password_matches := public.crypt(coalesce(password, ''), coalesce(stored_hash, decoy_hash)) = coalesce(stored_hash, decoy_hash)
                      and stored_hash is not null;
  -- An unverified account gets the answer of a wrong password: otherwise signing up with an address
  -- and then signing in would tell whether that address already had an account.
  if not password_matches or not verified then
    raise exception 'Invalid email or password (a new account can sign in once its email address is confirmed)'
      using errcode = 'PT030';
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
  'Checks email and password (the same answer and the same bcrypt work whether the email exists or not, and for an '
  'account whose email is not verified yet) and opens a session in the named organisation, or the only one. '
  'Security definer because it runs for anonymous callers.';

--------------------------------------------------------------------------------
-- Verified email and password reset: single-use links, looked up by the hash of their token.

create function app_hidden.user_token(token text, purpose text) returns app_private.tokens
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_token app_private.tokens;
begin
  select t.* into found_token from app_private.tokens t
   where t.token_hash = public.digest(coalesce(token, ''), 'sha256') and t.purpose = user_token.purpose
   for update;
  if found_token.id is null or found_token.used_at is not null then
    raise exception 'Link invalid: this link is unknown or was already used; ask for a new one' using errcode = 'PT043';
  end if;
  if found_token.expires_at <= now() then
    raise exception 'Link expired: ask for a new one' using errcode = 'PT044';
  end if;
  return found_token;
end;
$$;
comment on function app_hidden.user_token(text, text) is
  'The unused, unexpired token row of a mailed link (locked), or a TOKEN_INVALID / TOKEN_EXPIRED error.';

create function app_hidden.verify_email(token text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_token app_private.tokens := app_hidden.user_token(token, 'verify_email');
begin
  update app_private.tokens t set used_at = now() where t.id = found_token.id;
  update iam.users u set email_verified_at = coalesce(u.email_verified_at, now()) where u.id = found_token.user_id;
  return true;
end;
$$;
comment on function app_hidden.verify_email(text) is
  'Marks the account of a verification link as verified (the link works once). Security definer because it runs for '
  'anonymous callers.';

create function app_hidden.request_password_reset(email text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_user iam.users;
  token uuid;
begin
  select u.* into found_user from iam.users u
   where u.email operator(public.=) trim(coalesce(request_password_reset.email, ''))::public.citext;
  -- One link a minute at most: asking again and again must not flood the mailbox (the previous
  -- link, still valid, is on its way).
  if found_user.id is not null and not exists (
    select 1 from app_private.tokens t
     where t.user_id = found_user.id and t.purpose = 'reset_password' and t.used_at is null
       and t.created_at > now() - interval '1 minute'
  ) then
    insert into app_private.tokens (purpose, user_id, expires_at)
    values ('reset_password', found_user.id, now() + interval '30 minutes')
    returning id into token;
    perform app_hidden.queue_mail('password_reset', found_user.email, found_user.locale, '{}', null, token);
  end if;
  return true;
end;
$$;
comment on function app_hidden.request_password_reset(text) is
  'Mails a password reset link (single use, valid 30 minutes from sending) when the address has an account; '
  'answers the same either way. Security definer because it runs for anonymous callers.';

create function app_hidden.reset_password(token text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_token app_private.tokens := app_hidden.user_token(token, 'reset_password');
  account iam.users;
begin
  select u.* into account from iam.users u where u.id = found_token.user_id;
  perform app_hidden.check_password(new_password, account.email);
  perform app_hidden.set_password(account.id, new_password);
  -- Every reset link of this user stops working, and so does every session.
  update app_private.tokens t set used_at = now()
   where t.user_id = account.id and t.purpose = 'reset_password' and t.used_at is null;
  update app_private.sessions s set revoked_at = now() where s.user_id = account.id and s.revoked_at is null;
  -- The link proved the mailbox.
  update iam.users u set email_verified_at = coalesce(u.email_verified_at, now()) where u.id = account.id;
  perform app_hidden.queue_mail('password_changed', account.email, account.locale, '{}', null, null);
  return true;
end;
$$;
comment on function app_hidden.reset_password(text, text) is
  'Sets a new password from a reset link (once), ends every session of the user, verifies the email and mails a '
  'notice. Security definer because it runs for anonymous callers.';

grant execute on function
  app_hidden.register(text, text, text, text, text, integer),
  app_hidden.verify_email(text),
  app_hidden.request_password_reset(text),
  app_hidden.reset_password(text, text)
  to :DATABASE_ANONYMOUS, :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- Operators (tenant:create) vouch for the accounts they create: verified at once.

create function app_hidden.create_verified_organisation(organisation_name text, owner_email text, owner_password text)
  returns table (organisation_id uuid, slug text)
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  address text := trim(owner_email);
  new_user uuid;
  new_organisation uuid;
begin
  if address is null or address !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(address) > 255 then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  if organisation_name is null or length(trim(organisation_name)) not between 1 and 200 then
    raise exception 'Invalid input: the organisation name must be 1 to 200 characters' using errcode = '22023';
  end if;
  perform app_hidden.check_password(owner_password, address);
  insert into iam.users (email, email_verified_at) values (address, now())
  on conflict (email) do nothing
  returning id into new_user;
  if new_user is null then
    raise exception 'Already exists: a user with the email % already exists', address using errcode = 'PT021';
  end if;
  perform app_hidden.set_password(new_user, owner_password);
  new_organisation := app_hidden.create_organisation(organisation_name);
  insert into iam.organisation_users (organisation_id, user_id, role) values (new_organisation, new_user, 'owner');
  return query select o.id, o.slug from iam.organisations o where o.id = new_organisation;
end;
$$;
comment on function app_hidden.create_verified_organisation(text, text, text) is
  'Operator sign-up (npm run tenant:create): an organisation and its owner, verified because the operator vouches '
  'for the address. Not granted to any API role.';
