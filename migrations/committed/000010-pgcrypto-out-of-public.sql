--! Previous: sha1:44c52c33a2ebc7a115525cd1ac59c21e38670a50
--! Hash: sha1:fd27dff8e9b97efed20fea0bad5f32780612a135
--! Message: pgcrypto out of public

--! split: 200-extensions-out-of-public.sql
-- Extensions out of `public` (issue 14, item 4; Supabase splinter lint 0014 "extension in public"):
-- pgcrypto joins pg_trgm, unaccent and btree_gin in schema `extensions` (created by 000008; not
-- exposed by PostGraphile), and the eight functions that call it (`extensions.crypt`,
-- `extensions.gen_salt`, `extensions.gen_random_bytes`, `extensions.digest`) are re-created from
-- their fixture files below. Every function pins `search_path` to `pg_catalog, pg_temp` and
-- qualifies the names, so no search path changes (.gmrc keeps `pg_catalog, public`).
--
-- pgcrypto is dropped and created again rather than moved: `alter extension … set schema` needs
-- the owner of its member objects, and a trusted extension's objects belong to the bootstrap
-- superuser, not to the (non-superuser) owner running the migrations. Nothing depends on pgcrypto
-- but function bodies (the defaults call pg_catalog.gen_random_uuid), so `drop extension` without
-- cascade succeeds; it fails, changing nothing, if that ever stops being true.
-- citext stays in public here: its type is the email columns' type, so it cannot be dropped, and
-- only a superuser can move it (see README, "How tenant isolation works").
--
-- Rights: the extensions' functions belong to the bootstrap superuser, so the owner cannot revoke
-- PUBLIC's EXECUTE on them; src/db/sql/extension-rights.sql does, as the superuser, after the
-- migrations (restrictExtensionFunctions). Here: the schema's usage, for the visitor only.
-- Idempotent: pgcrypto is re-created only while it is outside schema extensions.
do $$
begin
  if exists (
    select 1 from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'pgcrypto' and n.nspname <> 'extensions'
  ) then
    drop extension pgcrypto;
  end if;
end
$$;
create extension if not exists pgcrypto with schema extensions;
comment on schema extensions is 'PostgreSQL extensions (pgcrypto, pg_trgm, unaccent, btree_gin), kept out of the public schema; not exposed through GraphQL. Only the visitor may use it (the search); src/db/sql/extension-rights.sql (run as the superuser) leaves the API roles EXECUTE only on the functions their queries evaluate.';
revoke all on schema extensions from public;
revoke all on schema extensions from :DATABASE_ANONYMOUS;
grant usage on schema extensions to :DATABASE_VISITOR;

--! Included app_hidden/claim_mail.sql
-- app_hidden/claim_mail.sql: the current definition of app_hidden.claim_mail. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/claim_mail.sql).

create or replace function app_hidden.claim_mail(worker text, batch_size integer, lease_seconds integer)
  returns setof app_hidden.claimed_mail
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  message app_private.mail_outbox;
  target app_private.tokens;
  still_wanted boolean;
  token text;
begin
  -- Leases that ran out mid-send: their mailer died after (perhaps) handing the message over.
  update app_private.mail_outbox b
     set status = 'uncertain', last_error = format('mailer %s stopped while sending (lease expired)', b.locked_by),
         lease_expires_at = null
   where b.status = 'sending' and b.lease_expires_at < now();

  for message in
    with due as (
      select b.id from app_private.mail_outbox b
       where b.status = 'pending' and b.next_attempt_at <= now()
       order by b.next_attempt_at, b.id
       limit least(greatest(batch_size, 1), 100)
       for update skip locked
    )
    update app_private.mail_outbox b
       set status = 'sending', locked_by = worker, attempts = b.attempts + 1,
           lease_expires_at = now() + make_interval(secs => greatest(lease_seconds, 1))
      from due where b.id = due.id
    returning b.*
  loop
    token := null;
    if message.token_id is not null then
      select t.* into target from app_private.tokens t where t.id = message.token_id for update;
      still_wanted := target.used_at is null and (
        target.purpose <> 'invitation' or exists (
          select 1 from iam.invitations i
           where i.organisation_id = target.organisation_id and i.id = target.invitation_id
             and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()));
      if not still_wanted then
        update app_private.mail_outbox b set status = 'cancelled', lease_expires_at = null where b.id = message.id;
        continue;
      end if;
      token := translate(encode(extensions.gen_random_bytes(32), 'base64'), '+/=', '-_');
      update app_private.tokens t
         set token_hash = extensions.digest(token, 'sha256'),
             -- The link's full validity counts from now (invitations keep their own expiry).
             expires_at = case when t.purpose = 'invitation' then t.expires_at
                               else greatest(t.expires_at, now() + (t.expires_at - t.created_at)) end
       where t.id = target.id;
    end if;
    return next (message.id, message.kind, message.recipient::text, message.locale, message.params,
                 message.message_id, message.attempts, token)::app_hidden.claimed_mail;
  end loop;
end;
$function$;
comment on function app_hidden.claim_mail(worker text, batch_size integer, lease_seconds integer) is 'Claims up to batch_size due messages for this mailer under a lease (SKIP LOCKED: concurrent mailers take different rows), draws the token of each link (storing only its hash) and returns them; marks messages whose mailer died mid-send as uncertain. Security definer: the mailer''s role reads no table itself.';
revoke all on function app_hidden.claim_mail(worker text, batch_size integer, lease_seconds integer) from public;
grant execute on function app_hidden.claim_mail(worker text, batch_size integer, lease_seconds integer) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/claim_mail.sql
--! Included app_hidden/create_organisation.sql
-- app_hidden/create_organisation.sql: the current definition of app_hidden.create_organisation. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/create_organisation.sql).

create or replace function app_hidden.create_organisation(organisation_name text)
  returns uuid
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
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
    candidate := base || '-' || substr(encode(extensions.gen_random_bytes(4), 'hex'), 1, 6);
  end loop;
  return created;
end;
$function$;
comment on function app_hidden.create_organisation(organisation_name text) is 'Creates an organisation with a URL-safe slug from its name (the name itself, or the name and a random suffix when taken); safe under concurrent sign-ups with one name.';
revoke all on function app_hidden.create_organisation(organisation_name text) from public;
--! EndIncluded app_hidden/create_organisation.sql
--! Included app_hidden/login.sql
-- app_hidden/login.sql: the current definition of app_hidden.login. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/login.sql).

create or replace function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
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
  password_matches := extensions.crypt(coalesce(password, ''), coalesce(stored_hash, decoy_hash)) = coalesce(stored_hash, decoy_hash)
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
$function$;
comment on function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer) is 'Checks email and password (the same answer and the same bcrypt work whether the email exists or not, and for an account whose email is not verified yet) and opens a session in the named organisation, or the only one. Security definer because it runs for anonymous callers.';
revoke all on function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer) from public;
grant execute on function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer) to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/login.sql
--! Included app_hidden/open_invitation.sql
-- app_hidden/open_invitation.sql: the current definition of app_hidden.open_invitation. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/open_invitation.sql).

create or replace function app_hidden.open_invitation(token text)
  returns iam.invitations
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  invitation iam.invitations;
begin
  select i.* into invitation
    from app_private.tokens t
    join iam.invitations i on i.organisation_id = t.organisation_id and i.id = t.invitation_id
   where t.token_hash = extensions.digest(coalesce(token, ''), 'sha256') and t.purpose = 'invitation' and t.used_at is null
   for update of i;
  if invitation.id is null or invitation.accepted_at is not null or invitation.revoked_at is not null then
    raise exception 'Invitation invalid: this link is unknown, was revoked or was already used' using errcode = 'PT040';
  end if;
  if invitation.expires_at <= now() then
    raise exception 'Invitation expired: ask the organisation for a new invitation' using errcode = 'PT041';
  end if;
  return invitation;
end;
$function$;
comment on function app_hidden.open_invitation(token text) is 'The open invitation of a link''s token (locked), or INVITATION_INVALID / INVITATION_EXPIRED.';
revoke all on function app_hidden.open_invitation(token text) from public;
--! EndIncluded app_hidden/open_invitation.sql
--! Included app_hidden/register.sql
-- app_hidden/register.sql: the current definition of app_hidden.register. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/register.sql).

create or replace function app_hidden.register(email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
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
      if extensions.crypt(coalesce(password, ''), existing_hash) <> existing_hash then
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
    perform extensions.crypt(coalesce(password, ''), extensions.gen_salt('bf', 10));
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
$function$;
comment on function app_hidden.register(email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer) is 'Sign-up. Without an invitation: a new, unverified account with its own organisation and a verification mail, or, for a taken email, only a notice to its owner; both return no session and look the same. With an invitation token: a verified account (or the existing one, with its password) joins the inviting organisation and gets a session. Security definer because it runs for anonymous callers.';
revoke all on function app_hidden.register(email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer) from public;
grant execute on function app_hidden.register(email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer) to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.register(email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/register.sql
--! Included app_hidden/set_password.sql
-- app_hidden/set_password.sql: the current definition of app_hidden.set_password. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/set_password.sql).

create or replace function app_hidden.set_password(user_id uuid, password text)
  returns void
  language sql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  insert into app_private.user_secrets (user_id, password_hash)
  values (user_id, extensions.crypt(password, extensions.gen_salt('bf', 10)))
  on conflict (user_id) do update set password_hash = excluded.password_hash;
$function$;
comment on function app_hidden.set_password(user_id uuid, password text) is 'Stores a bcrypt hash of the password (cost 10).';
revoke all on function app_hidden.set_password(user_id uuid, password text) from public;
--! EndIncluded app_hidden/set_password.sql
--! Included app_hidden/tg_messages__after_send_or_reply.sql
-- app_hidden/tg_messages__after_send_or_reply.sql: the current definition of app_hidden.tg_messages__after_send_or_reply. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg_messages__after_send_or_reply.sql).

create or replace function app_hidden.tg_messages__after_send_or_reply()
  returns trigger
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  replied_to record;
  enrollment_replied boolean;
begin
  if new.direction = 'outbound' and new.status = 'sent'
     and (tg_op = 'INSERT' or old.status is distinct from 'sent') then
    insert into tracking.pixels (organisation_id, message_id, token)
    values (new.organisation_id, new.id,
            translate(encode(extensions.gen_random_bytes(24), 'base64'), '+/', '-_'));
    perform app_hidden.count_campaign_day(new.organisation_id, new.campaign_id, (new.sent_at at time zone 'UTC')::date, 'sent');
    perform app_hidden.count_variant(new.organisation_id, new.step_experiment_id, new.variant_id, 'sent');
    update outreach.campaign_enrollments e set last_activity_at = new.sent_at
     where e.organisation_id = new.organisation_id and e.id = new.enrollment_id;
  elsif new.direction = 'inbound' and tg_op = 'INSERT' and new.enrollment_id is not null then
    select m.step_experiment_id, m.variant_id, coalesce(s.exit_on_reply, true) as exit_on_reply into replied_to
      from outreach.messages m
      left join outreach.tasks t on t.organisation_id = m.organisation_id and t.id = m.task_id
      left join outreach.workflow_steps s on s.organisation_id = t.organisation_id and s.id = t.workflow_step_id
     where m.organisation_id = new.organisation_id and m.enrollment_id = new.enrollment_id and m.direction = 'outbound'
       and ((new.provider_thread_id is not null and m.provider_thread_id = new.provider_thread_id)
         or (new.in_reply_to is not null and m.rfc822_message_id = new.in_reply_to))
     order by m.sent_at desc nulls last
     limit 1;
    update outreach.campaign_enrollments e
       set state = case when replied_to.exit_on_reply and e.state in ('active', 'paused') then 'replied' else e.state end,
           stopped_reason = case when replied_to.exit_on_reply and e.state in ('active', 'paused') then 'replied' else e.stopped_reason end,
           last_activity_at = new.received_at
     where e.organisation_id = new.organisation_id and e.id = new.enrollment_id;
    -- An enrolment counts as replied once, at its first reply.
    select count(*) = 1 into enrollment_replied
      from outreach.messages m
     where m.organisation_id = new.organisation_id and m.enrollment_id = new.enrollment_id and m.direction = 'inbound';
    if enrollment_replied then
      perform app_hidden.count_campaign_day(new.organisation_id, new.campaign_id, (new.received_at at time zone 'UTC')::date, 'replied');
      perform app_hidden.count_variant(new.organisation_id, replied_to.step_experiment_id, replied_to.variant_id, 'replied');
    end if;
  end if;
  return null;
end;
$function$;
comment on function app_hidden.tg_messages__after_send_or_reply() is 'Trigger: a message becoming sent gets a tracking pixel with an unguessable token and is counted; an inbound reply marks its enrolment replied (cancelling its queued tasks when the step says exit_on_reply) and is counted once per enrolment. Security definer because the visitor may not write pixels, figures or tasks; it acts only on the message''s organisation, which the insert/update policy has already checked.';
revoke all on function app_hidden.tg_messages__after_send_or_reply() from public;
--! EndIncluded app_hidden/tg_messages__after_send_or_reply.sql
--! Included app_hidden/user_token.sql
-- app_hidden/user_token.sql: the current definition of app_hidden.user_token. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/user_token.sql).

create or replace function app_hidden.user_token(token text, purpose text)
  returns app_private.tokens
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  found_token app_private.tokens;
begin
  select t.* into found_token from app_private.tokens t
   where t.token_hash = extensions.digest(coalesce(token, ''), 'sha256') and t.purpose = user_token.purpose
   for update;
  if found_token.id is null or found_token.used_at is not null then
    raise exception 'Link invalid: this link is unknown or was already used; ask for a new one' using errcode = 'PT043';
  end if;
  if found_token.expires_at <= now() then
    raise exception 'Link expired: ask for a new one' using errcode = 'PT044';
  end if;
  return found_token;
end;
$function$;
comment on function app_hidden.user_token(token text, purpose text) is 'The unused, unexpired token row of a mailed link (locked), or a TOKEN_INVALID / TOKEN_EXPIRED error.';
revoke all on function app_hidden.user_token(token text, purpose text) from public;
--! EndIncluded app_hidden/user_token.sql
