--! Previous: sha1:c00e018a6b41f3cfec47714ae90f65a78de87ee3
--! Hash: sha1:44c52c33a2ebc7a115525cd1ac59c21e38670a50
--! Message: Functions in fixtures

--! split: 100-functions-in-fixtures.sql
-- Every function's current definition, one file per function under migrations/fixtures/<schema>/
-- (no schema change: each file re-creates what the migrations before left, with its comment and
-- grants). From now on a function is changed by editing its file and including it again here.
--! Included app_hidden/check_password.sql
-- app_hidden/check_password.sql: the current definition of app_hidden.check_password. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/check_password.sql).

create or replace function app_hidden.check_password(password text, email text)
  returns void
  language plpgsql
  immutable
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
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
$function$;
comment on function app_hidden.check_password(password text, email text) is 'The password rules: 10 characters to 72 bytes (bcrypt''s limit), letters and non-letters, not containing the email''s name.';
revoke all on function app_hidden.check_password(password text, email text) from public;
--! EndIncluded app_hidden/check_password.sql
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
      token := translate(encode(public.gen_random_bytes(32), 'base64'), '+/=', '-_');
      update app_private.tokens t
         set token_hash = public.digest(token, 'sha256'),
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
--! Included app_hidden/companies_matching.sql
-- app_hidden/companies_matching.sql: the current definition of app_hidden.companies_matching. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/companies_matching.sql).

create or replace function app_hidden.companies_matching(query text)
  returns setof uuid
  language sql
  stable security definer rows 200
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select c.id
    from crm.companies c
   where c.organisation_id = (select app_hidden.current_organisation_id())
     and c.search_document like (select app_hidden.search_pattern(query));
$function$;
comment on function app_hidden.companies_matching(query text) is 'Ids of your organisation''s companies whose name, brand, SIREN or SIRET contain the query; security definer for the trigram index, like people_matching.';
revoke all on function app_hidden.companies_matching(query text) from public;
grant execute on function app_hidden.companies_matching(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/companies_matching.sql
--! Included app_hidden/companies_search_document.sql
-- app_hidden/companies_search_document.sql: the current definition of app_hidden.companies_search_document. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/companies_search_document.sql).

create or replace function app_hidden.companies_search_document(name text, brand_name text, siren text, hq_siret text)
  returns text
  language sql
  immutable parallel safe
as $function$
  select app_hidden.search_text(coalesce(name, '') || ' ' || coalesce(brand_name, '') || ' ' || coalesce(siren, '')
                                || ' ' || coalesce(hq_siret, ''));
$function$;
comment on function app_hidden.companies_search_document(name text, brand_name text, siren text, hq_siret text) is 'What `companies(search:)` matches: name, brand name, SIREN and headquarters SIRET, lower-case and without accents.';
revoke all on function app_hidden.companies_search_document(name text, brand_name text, siren text, hq_siret text) from public;
grant execute on function app_hidden.companies_search_document(name text, brand_name text, siren text, hq_siret text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/companies_search_document.sql
--! Included app_hidden/count_campaign_day.sql
-- app_hidden/count_campaign_day.sql: the current definition of app_hidden.count_campaign_day. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/count_campaign_day.sql).

create or replace function app_hidden.count_campaign_day(organisation uuid, campaign uuid, on_day date, figure text)
  returns void
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  if campaign is null then return; end if;
  insert into tracking.campaign_daily_stats as s (organisation_id, campaign_id, day, enrolled, emails_sent, emails_opened, emails_replied)
  values (organisation, campaign, on_day,
          (figure = 'enrolled')::int, (figure = 'sent')::int, (figure = 'opened')::int, (figure = 'replied')::int)
  on conflict (organisation_id, campaign_id, day) do update set
    enrolled = s.enrolled + (figure = 'enrolled')::int,
    emails_sent = s.emails_sent + (figure = 'sent')::int,
    emails_opened = s.emails_opened + (figure = 'opened')::int,
    emails_replied = s.emails_replied + (figure = 'replied')::int;
end;
$function$;
comment on function app_hidden.count_campaign_day(organisation uuid, campaign uuid, on_day date, figure text) is 'Adds one to a campaign''s daily figure (enrolled, sent, opened or replied). Called by privileged triggers only.';
revoke all on function app_hidden.count_campaign_day(organisation uuid, campaign uuid, on_day date, figure text) from public;
--! EndIncluded app_hidden/count_campaign_day.sql
--! Included app_hidden/count_variant.sql
-- app_hidden/count_variant.sql: the current definition of app_hidden.count_variant. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/count_variant.sql).

create or replace function app_hidden.count_variant(organisation uuid, experiment uuid, variant uuid, figure text)
  returns void
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  if variant is null then return; end if;
  insert into tracking.variant_stats as s (organisation_id, step_experiment_id, variant_id, assigned, emails_sent, emails_opened, emails_replied)
  values (organisation, experiment, variant,
          (figure = 'assigned')::int, (figure = 'sent')::int, (figure = 'opened')::int, (figure = 'replied')::int)
  on conflict (organisation_id, variant_id) do update set
    assigned = s.assigned + (figure = 'assigned')::int,
    emails_sent = s.emails_sent + (figure = 'sent')::int,
    emails_opened = s.emails_opened + (figure = 'opened')::int,
    emails_replied = s.emails_replied + (figure = 'replied')::int;
end;
$function$;
comment on function app_hidden.count_variant(organisation uuid, experiment uuid, variant uuid, figure text) is 'Adds one to an A/B variant''s figure (assigned, sent, opened or replied). Called by privileged triggers only.';
revoke all on function app_hidden.count_variant(organisation uuid, experiment uuid, variant uuid, figure text) from public;
--! EndIncluded app_hidden/count_variant.sql
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
    candidate := base || '-' || substr(encode(public.gen_random_bytes(4), 'hex'), 1, 6);
  end loop;
  return created;
end;
$function$;
comment on function app_hidden.create_organisation(organisation_name text) is 'Creates an organisation with a URL-safe slug from its name (the name itself, or the name and a random suffix when taken); safe under concurrent sign-ups with one name.';
revoke all on function app_hidden.create_organisation(organisation_name text) from public;
--! EndIncluded app_hidden/create_organisation.sql
--! Included app_hidden/create_verified_organisation.sql
-- app_hidden/create_verified_organisation.sql: the current definition of app_hidden.create_verified_organisation. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/create_verified_organisation.sql).

create or replace function app_hidden.create_verified_organisation(organisation_name text, owner_email text, owner_password text)
  returns table(organisation_id uuid, slug text)
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
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
$function$;
comment on function app_hidden.create_verified_organisation(organisation_name text, owner_email text, owner_password text) is 'Operator sign-up (npm run tenant:create): an organisation and its owner, verified because the operator vouches for the address. Not granted to any API role.';
revoke all on function app_hidden.create_verified_organisation(organisation_name text, owner_email text, owner_password text) from public;
--! EndIncluded app_hidden/create_verified_organisation.sql
--! Included app_hidden/current_member_role.sql
-- app_hidden/current_member_role.sql: the current definition of app_hidden.current_member_role. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/current_member_role.sql).

create or replace function app_hidden.current_member_role()
  returns text
  language plpgsql
  stable security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
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
$function$;
comment on function app_hidden.current_member_role() is 'The role of app.user_id in app.organisation_id, failing closed when either is missing, the membership is not active, the session (app.session_id, when the token has one) was revoked or expired, or the organisation is suspended. The result is kept for the rest of the transaction (app_hidden.verified_member, keyed by app_hidden.tenant_settings_key()) and forgotten when memberships, organisations or sessions change. Security definer because it must read memberships and sessions that the caller cannot.';
revoke all on function app_hidden.current_member_role() from public;
grant execute on function app_hidden.current_member_role() to :DATABASE_VISITOR;
--! EndIncluded app_hidden/current_member_role.sql
--! Included app_hidden/current_organisation_id.sql
-- app_hidden/current_organisation_id.sql: the current definition of app_hidden.current_organisation_id. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/current_organisation_id.sql).

create or replace function app_hidden.current_organisation_id()
  returns uuid
  language sql
  stable
as $function$
  select case
           when nullif(pg_catalog.split_part(pg_catalog.current_setting('app_hidden.verified_member', true), '=', 1), '')
                = app_hidden.tenant_settings_key()
             then pg_catalog.current_setting('app.organisation_id', true)::uuid
           else app_hidden.verify_tenant('app.organisation_id')
         end
$function$;
comment on function app_hidden.current_organisation_id() is 'The tenant of this transaction, after checking that the current user is an active member of it (once per transaction: see app_hidden.current_member_role). Every tenant policy calls it as `(select app_hidden.current_organisation_id())`; its fast path is inlined into that InitPlan.';
revoke all on function app_hidden.current_organisation_id() from public;
grant execute on function app_hidden.current_organisation_id() to :DATABASE_VISITOR;
--! EndIncluded app_hidden/current_organisation_id.sql
--! Included app_hidden/current_user_id.sql
-- app_hidden/current_user_id.sql: the current definition of app_hidden.current_user_id. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/current_user_id.sql).

create or replace function app_hidden.current_user_id()
  returns uuid
  language sql
  stable
as $function$
  select case
           when nullif(pg_catalog.split_part(pg_catalog.current_setting('app_hidden.verified_member', true), '=', 1), '')
                = app_hidden.tenant_settings_key()
             then pg_catalog.current_setting('app.user_id', true)::uuid
           else app_hidden.verify_tenant('app.user_id')
         end
$function$;
comment on function app_hidden.current_user_id() is 'The signed-in user of this transaction, after checking that they are an active member of the tenant (once per transaction: see app_hidden.current_member_role).';
revoke all on function app_hidden.current_user_id() from public;
grant execute on function app_hidden.current_user_id() to :DATABASE_VISITOR;
--! EndIncluded app_hidden/current_user_id.sql
--! Included app_hidden/delete_organisation_data.sql
-- app_hidden/delete_organisation_data.sql: the current definition of app_hidden.delete_organisation_data. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/delete_organisation_data.sql).

create or replace function app_hidden.delete_organisation_data(organisation uuid, actor uuid)
  returns jsonb
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  tenant_table record;
  removed bigint;
  rows_removed jsonb := '{}'::jsonb;
  owned_accounts uuid[];
  other_accounts uuid[];
  recorded_at timestamptz;
begin
  if not exists (select 1 from iam.organisations o where o.id = organisation) then
    raise exception 'Not found: no organisation with this id' using errcode = 'PT011';
  end if;
  for tenant_table in
    select format('%I.%I', n.nspname, c.relname)::text as name
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'organisation_id' and not a.attisdropped
     where n.nspname in ('iam', 'crm', 'outreach', 'tracking', 'app_private') and c.relkind in ('r', 'p')
     order by 1
  loop
    execute format('select count(*) from %s where organisation_id = $1', tenant_table.name) into removed using organisation;
    if removed > 0 then rows_removed := rows_removed || jsonb_build_object(tenant_table.name, removed); end if;
  end loop;
  select coalesce(array_agg(m.user_id order by m.user_id) filter (where m.owned), '{}'::uuid[]),
         coalesce(array_agg(m.user_id order by m.user_id) filter (where not m.owned), '{}'::uuid[])
    into owned_accounts, other_accounts
    from (
      select member.user_id,
             exists (
               select 1 from app_private.account_origins o
                where o.user_id = member.user_id and o.created_for_organisation_id = organisation
                  and o.joined_another_at is null
             ) and not exists (
               select 1 from iam.organisation_users other
                where other.user_id = member.user_id and other.organisation_id <> organisation
             ) as owned
        from iam.organisation_users member
       where member.organisation_id = organisation
    ) m;
  rows_removed := rows_removed || jsonb_build_object('iam.organisations', 1, 'iam.users', cardinality(owned_accounts));
  delete from iam.organisations o where o.id = organisation;
  delete from iam.users u where u.id = any(owned_accounts);
  insert into app_private.organisation_deletions
    (organisation_id, deleted_by_user_id, rows_removed, accounts_deleted, accounts_kept)
  values (organisation, actor, rows_removed, owned_accounts, other_accounts)
  returning deleted_at into recorded_at;
  return jsonb_build_object(
    'organisationId', organisation, 'deletedAt', recorded_at, 'rowsRemoved', rows_removed,
    'accountsDeleted', cardinality(owned_accounts), 'accountsKept', cardinality(other_accounts));
end;
$function$;
comment on function app_hidden.delete_organisation_data(organisation uuid, actor uuid) is 'Deletes an organisation with all its rows (foreign keys cascade from iam.organisations) and the accounts created for it that never joined another organisation (other members keep their accounts), and records which. Used by deleteCurrentOrganisation and the operator CLI.';
revoke all on function app_hidden.delete_organisation_data(organisation uuid, actor uuid) from public;
--! EndIncluded app_hidden/delete_organisation_data.sql
--! Included app_hidden/display_name.sql
-- app_hidden/display_name.sql: the current definition of app_hidden.display_name. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/display_name.sql).

create or replace function app_hidden.display_name(user_id uuid)
  returns text
  language sql
  stable
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select coalesce(nullif(trim(concat_ws(' ', u.first_name, u.last_name)), ''), u.email::text)
    from iam.users u where u.id = display_name.user_id
$function$;
comment on function app_hidden.display_name(user_id uuid) is 'How a member is named in mail: first and last name, or their email.';
revoke all on function app_hidden.display_name(user_id uuid) from public;
--! EndIncluded app_hidden/display_name.sql
--! Included app_hidden/join_invitation.sql
-- app_hidden/join_invitation.sql: the current definition of app_hidden.join_invitation. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/join_invitation.sql).

create or replace function app_hidden.join_invitation(invitation iam.invitations, member uuid)
  returns iam.organisation_users
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  membership iam.organisation_users;
begin
  insert into iam.organisation_users as m (organisation_id, user_id, role, status)
  values (invitation.organisation_id, member, invitation.role, 'active')
  on conflict (organisation_id, user_id) do update
    set status = 'active', role = case when m.role = 'owner' then m.role else excluded.role end
    where m.status <> 'active'
  returning * into membership;
  if membership.user_id is null then
    raise exception 'Already exists: you are already a member of this organisation' using errcode = 'PT021';
  end if;
  update iam.invitations i set accepted_at = now(), accepted_by_user_id = member
   where i.organisation_id = invitation.organisation_id and i.id = invitation.id;
  update app_private.tokens t set used_at = now()
   where t.organisation_id = invitation.organisation_id and t.invitation_id = invitation.id;
  update app_private.mail_outbox b set status = 'cancelled'
   where b.status = 'pending' and b.token_id in (
     select t.id from app_private.tokens t
      where t.organisation_id = invitation.organisation_id and t.invitation_id = invitation.id);
  return membership;
end;
$function$;
comment on function app_hidden.join_invitation(invitation iam.invitations, member uuid) is 'Makes the user an active member with the invited role and closes the invitation (its link stops working).';
revoke all on function app_hidden.join_invitation(invitation iam.invitations, member uuid) from public;
--! EndIncluded app_hidden/join_invitation.sql
--! Included app_hidden/lock_processing_task.sql
-- app_hidden/lock_processing_task.sql: the current definition of app_hidden.lock_processing_task. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/lock_processing_task.sql).

create or replace function app_hidden.lock_processing_task(organisation uuid, task_id uuid, outcome text)
  returns void
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  current_status text;
begin
  select t.status into current_status from outreach.tasks t
   where t.organisation_id = organisation and t.id = task_id
     for update;
  if current_status is null then
    raise exception 'Not found: no task with this id exists in your organisation' using errcode = 'PT011';
  end if;
  if current_status <> 'processing' then
    raise exception 'Invalid task transition: only a processing task can be %; this one is %', outcome, current_status
      using errcode = 'PT010';
  end if;
end;
$function$;
comment on function app_hidden.lock_processing_task(organisation uuid, task_id uuid, outcome text) is 'Locks a task for completing or failing it, which only a claimed (processing) task may be.';
revoke all on function app_hidden.lock_processing_task(organisation uuid, task_id uuid, outcome text) from public;
--! EndIncluded app_hidden/lock_processing_task.sql
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
$function$;
comment on function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer) is 'Checks email and password (the same answer and the same bcrypt work whether the email exists or not, and for an account whose email is not verified yet) and opens a session in the named organisation, or the only one. Security definer because it runs for anonymous callers.';
revoke all on function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer) from public;
grant execute on function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer) to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/login.sql
--! Included app_hidden/mail_failed.sql
-- app_hidden/mail_failed.sql: the current definition of app_hidden.mail_failed. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/mail_failed.sql).

create or replace function app_hidden.mail_failed(message uuid, worker text, error text, permanent boolean, retry_after_ms integer)
  returns text
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  outcome text;
begin
  update app_private.mail_outbox b
     set status = case when permanent then 'failed' else 'pending' end,
         next_attempt_at = now() + make_interval(secs => greatest(retry_after_ms, 0) / 1000.0),
         lease_expires_at = null, last_error = left(error, 2000)
   where b.id = message and b.locked_by = worker and b.status in ('sending', 'uncertain')
  returning b.status into outcome;
  return outcome;
end;
$function$;
comment on function app_hidden.mail_failed(message uuid, worker text, error text, permanent boolean, retry_after_ms integer) is 'Records a failed attempt: back to pending after retry_after_ms (the mailer''s backoff), or failed for good when the mail server refused the message permanently. Security definer: the mailer''s role reads no table itself.';
revoke all on function app_hidden.mail_failed(message uuid, worker text, error text, permanent boolean, retry_after_ms integer) from public;
grant execute on function app_hidden.mail_failed(message uuid, worker text, error text, permanent boolean, retry_after_ms integer) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/mail_failed.sql
--! Included app_hidden/mail_sent.sql
-- app_hidden/mail_sent.sql: the current definition of app_hidden.mail_sent. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/mail_sent.sql).

create or replace function app_hidden.mail_sent(message uuid, worker text)
  returns boolean
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  sent app_private.mail_outbox;
begin
  update app_private.mail_outbox b
     set status = 'sent', sent_at = now(), lease_expires_at = null, last_error = null
   where b.id = message and b.locked_by = worker and b.status in ('sending', 'uncertain')
  returning * into sent;
  if sent.id is not null and sent.token_id is not null then
    update iam.invitations i set last_sent_at = now()
      from app_private.tokens t
     where t.id = sent.token_id and i.organisation_id = t.organisation_id and i.id = t.invitation_id;
  end if;
  return sent.id is not null;
end;
$function$;
comment on function app_hidden.mail_sent(message uuid, worker text) is 'Records that the mail server accepted the message. Security definer: the mailer''s role reads no table itself.';
revoke all on function app_hidden.mail_sent(message uuid, worker text) from public;
grant execute on function app_hidden.mail_sent(message uuid, worker text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/mail_sent.sql
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
   where t.token_hash = public.digest(coalesce(token, ''), 'sha256') and t.purpose = 'invitation' and t.used_at is null
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
--! Included app_hidden/organisation_locale.sql
-- app_hidden/organisation_locale.sql: the current definition of app_hidden.organisation_locale. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/organisation_locale.sql).

create or replace function app_hidden.organisation_locale(organisation uuid)
  returns text
  language sql
  stable
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select case when o.country_code in ('FR', 'BE', 'CH', 'LU', 'MC') then 'fr' else 'en' end
    from iam.organisations o where o.id = organisation
$function$;
comment on function app_hidden.organisation_locale(organisation uuid) is 'The language of mail sent on behalf of an organisation: French for French-speaking countries, English otherwise.';
revoke all on function app_hidden.organisation_locale(organisation uuid) from public;
--! EndIncluded app_hidden/organisation_locale.sql
--! Included app_hidden/people_matching.sql
-- app_hidden/people_matching.sql: the current definition of app_hidden.people_matching. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/people_matching.sql).

create or replace function app_hidden.people_matching(query text)
  returns setof uuid
  language sql
  stable security definer rows 200
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select p.id
    from crm.people p
   where p.organisation_id = (select app_hidden.current_organisation_id())
     and p.search_document like (select app_hidden.search_pattern(query));
$function$;
comment on function app_hidden.people_matching(query text) is 'Ids of your organisation''s people whose names or email contain the query (any case, any accents); security definer so that the trigram index serves it (see the comment above it in 510-dashboard-search.sql).';
revoke all on function app_hidden.people_matching(query text) from public;
grant execute on function app_hidden.people_matching(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/people_matching.sql
--! Included app_hidden/people_search_document.sql
-- app_hidden/people_search_document.sql: the current definition of app_hidden.people_search_document. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/people_search_document.sql).

create or replace function app_hidden.people_search_document(first_name text, last_name text, email text)
  returns text
  language sql
  immutable parallel safe
as $function$
  select app_hidden.search_text(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, ''));
$function$;
comment on function app_hidden.people_search_document(first_name text, last_name text, email text) is 'What `people(search:)` matches: first name, last name and email, lower-case and without accents.';
revoke all on function app_hidden.people_search_document(first_name text, last_name text, email text) from public;
grant execute on function app_hidden.people_search_document(first_name text, last_name text, email text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/people_search_document.sql
--! Included app_hidden/positions_matching.sql
-- app_hidden/positions_matching.sql: the current definition of app_hidden.positions_matching. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/positions_matching.sql).

create or replace function app_hidden.positions_matching(query text)
  returns setof uuid
  language sql
  stable security definer rows 200
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  select p.id from crm.positions p
   where p.organisation_id = (select app_hidden.current_organisation_id())
     and p.search_document like (select app_hidden.search_pattern(query))
  union
  select p.id from crm.companies c join crm.positions p on p.organisation_id = c.organisation_id and p.company_id = c.id
   where c.organisation_id = (select app_hidden.current_organisation_id())
     and c.search_document like (select app_hidden.search_pattern(query));
$function$;
comment on function app_hidden.positions_matching(query text) is 'Ids of your organisation''s positions whose job title or work email, or whose company''s name or SIREN, contain the query; security definer for the trigram indexes, like people_matching.';
revoke all on function app_hidden.positions_matching(query text) from public;
grant execute on function app_hidden.positions_matching(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/positions_matching.sql
--! Included app_hidden/positions_search_document.sql
-- app_hidden/positions_search_document.sql: the current definition of app_hidden.positions_search_document. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/positions_search_document.sql).

create or replace function app_hidden.positions_search_document(job_title text, email text)
  returns text
  language sql
  immutable parallel safe
as $function$
  select app_hidden.search_text(coalesce(job_title, '') || ' ' || coalesce(email, ''));
$function$;
comment on function app_hidden.positions_search_document(job_title text, email text) is 'What `positions(search:)` matches on the position itself: job title and work email (the company''s name and SIREN are matched through companies_search_document).';
revoke all on function app_hidden.positions_search_document(job_title text, email text) from public;
grant execute on function app_hidden.positions_search_document(job_title text, email text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/positions_search_document.sql
--! Included app_hidden/queue_invitation_mail.sql
-- app_hidden/queue_invitation_mail.sql: the current definition of app_hidden.queue_invitation_mail. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/queue_invitation_mail.sql).

create or replace function app_hidden.queue_invitation_mail(invitation iam.invitations)
  returns uuid
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  token uuid;
begin
  -- One token row per invitation; each mail draws a new token for it, so only the latest link works.
  select t.id into token from app_private.tokens t
   where t.organisation_id = invitation.organisation_id and t.invitation_id = invitation.id;
  if token is null then
    insert into app_private.tokens (purpose, organisation_id, invitation_id, expires_at)
    values ('invitation', invitation.organisation_id, invitation.id, invitation.expires_at)
    returning id into token;
  else
    update app_private.tokens t set expires_at = invitation.expires_at where t.id = token;
  end if;
  -- A message still waiting for the previous link is not worth sending any more.
  update app_private.mail_outbox b set status = 'cancelled' where b.token_id = token and b.status = 'pending';
  return app_hidden.queue_mail('invitation', invitation.email, app_hidden.organisation_locale(invitation.organisation_id),
    jsonb_build_object(
      'organisationName', (select o.name from iam.organisations o where o.id = invitation.organisation_id),
      'inviterName', app_hidden.display_name(invitation.invited_by_user_id),
      'role', invitation.role,
      'expiresAt', invitation.expires_at),
    invitation.organisation_id, token);
end;
$function$;
comment on function app_hidden.queue_invitation_mail(invitation iam.invitations) is 'Queues the mail of an invitation (its link''s token is drawn when it is sent); earlier unsent ones are cancelled.';
revoke all on function app_hidden.queue_invitation_mail(invitation iam.invitations) from public;
--! EndIncluded app_hidden/queue_invitation_mail.sql
--! Included app_hidden/queue_mail.sql
-- app_hidden/queue_mail.sql: the current definition of app_hidden.queue_mail. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/queue_mail.sql).

create or replace function app_hidden.queue_mail(kind text, recipient text, locale text, params jsonb, organisation uuid, token uuid)
  returns uuid
  language sql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  insert into app_private.mail_outbox (kind, recipient, locale, params, organisation_id, token_id)
  values (kind, recipient, coalesce(locale, 'en'), coalesce(params, '{}'), organisation, token)
  returning id
$function$;
comment on function app_hidden.queue_mail(kind text, recipient text, locale text, params jsonb, organisation uuid, token uuid) is 'Queues a message in the outbox, in the caller''s transaction: it is sent if and only if the event commits.';
revoke all on function app_hidden.queue_mail(kind text, recipient text, locale text, params jsonb, organisation uuid, token uuid) from public;
--! EndIncluded app_hidden/queue_mail.sql
--! Included app_hidden/record_open.sql
-- app_hidden/record_open.sql: the current definition of app_hidden.record_open. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/record_open.sql).

create or replace function app_hidden.record_open(pixel_token text, opener_ip inet, opener_user_agent text)
  returns text
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
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
$function$;
comment on function app_hidden.record_open(pixel_token text, opener_ip inet, opener_user_agent text) is 'Records one load of a tracking pixel and says what it did: ''counted'' (figures, and an event while the token has fewer than 100 this hour), ''duplicate'' (the same client network within 60 seconds, or concurrently: nothing written), ''ignored'' (unknown token, or a message that is not a sent outbound one). Security definer because the caller is the unauthenticated pixel endpoint (anonymous role): it can do nothing else, learns nothing (the endpoint answers the same image) and touches only the pixel''s organisation.';
revoke all on function app_hidden.record_open(pixel_token text, opener_ip inet, opener_user_agent text) from public;
grant execute on function app_hidden.record_open(pixel_token text, opener_ip inet, opener_user_agent text) to :DATABASE_ANONYMOUS;
--! EndIncluded app_hidden/record_open.sql
--! Included app_hidden/recover_expired_tasks.sql
-- app_hidden/recover_expired_tasks.sql: the current definition of app_hidden.recover_expired_tasks. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/recover_expired_tasks.sql).

create or replace function app_hidden.recover_expired_tasks(organisation uuid, lock_timeout_seconds integer)
  returns integer
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  recovered integer;
begin
  -- The claim that expired already counted its attempt: the task is queued again as it is (due
  -- at once), or failed when that was its last attempt. Tasks another claim is recovering right
  -- now are skipped, never waited for.
  with expired as (
    select t.organisation_id, t.id
      from outreach.tasks t
     where t.organisation_id = organisation and t.status = 'processing'
       and t.locked_at < now() - make_interval(secs => lock_timeout_seconds)
       for update skip locked
  )
  update outreach.tasks t
     set status = case when t.attempts >= t.max_attempts then 'failed' else 'queued' end,
         last_error = left(format('Lock expired: %s claimed this task at %s and neither completed, failed nor '
                                  'heartbeat it within %s seconds', t.locked_by, t.locked_at, lock_timeout_seconds), 10000),
         locked_at = null, locked_by = null, updated_at = now()
    from expired
   where t.organisation_id = expired.organisation_id and t.id = expired.id;
  get diagnostics recovered = row_count;
  return recovered;
end;
$function$;
comment on function app_hidden.recover_expired_tasks(organisation uuid, lock_timeout_seconds integer) is 'Returns the organisation''s processing tasks locked longer than the timeout to the queue (or fails them when their attempts are exhausted); called by claim_due_tasks before it claims.';
revoke all on function app_hidden.recover_expired_tasks(organisation uuid, lock_timeout_seconds integer) from public;
--! EndIncluded app_hidden/recover_expired_tasks.sql
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
$function$;
comment on function app_hidden.register(email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer) is 'Sign-up. Without an invitation: a new, unverified account with its own organisation and a verification mail, or, for a taken email, only a notice to its owner; both return no session and look the same. With an invitation token: a verified account (or the existing one, with its password) joins the inviting organisation and gets a session. Security definer because it runs for anonymous callers.';
revoke all on function app_hidden.register(email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer) from public;
grant execute on function app_hidden.register(email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer) to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.register(email text, password text, organisation_name text, invitation_token text, locale text, lifetime_seconds integer) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/register.sql
--! Included app_hidden/request_password_reset.sql
-- app_hidden/request_password_reset.sql: the current definition of app_hidden.request_password_reset. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/request_password_reset.sql).

create or replace function app_hidden.request_password_reset(email text)
  returns boolean
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
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
$function$;
comment on function app_hidden.request_password_reset(email text) is 'Mails a password reset link (single use, valid 30 minutes from sending) when the address has an account; answers the same either way. Security definer because it runs for anonymous callers.';
revoke all on function app_hidden.request_password_reset(email text) from public;
grant execute on function app_hidden.request_password_reset(email text) to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.request_password_reset(email text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/request_password_reset.sql
--! Included app_hidden/require_permission.sql
-- app_hidden/require_permission.sql: the current definition of app_hidden.require_permission. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/require_permission.sql).

create or replace function app_hidden.require_permission(permission text)
  returns boolean
  language plpgsql
  stable
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  member_role text := app_hidden.current_member_role();
begin
  if not exists (select 1 from reference.permissions p where p.name = permission) then
    raise exception 'Unknown permission %', permission;
  end if;
  if not exists (
    select 1 from reference.role_permissions rp where rp.role = member_role and rp.permission = require_permission.permission
  ) then
    raise exception 'Forbidden: your role (%) does not have the % permission', member_role, permission
      using errcode = 'PT004';
  end if;
  return true;
end;
$function$;
comment on function app_hidden.require_permission(permission text) is 'True when the current member''s role holds the permission in reference.role_permissions; otherwise a clear "forbidden" error instead of silently filtered rows. Policies call it as `(select app_hidden.require_permission(…))`.';
revoke all on function app_hidden.require_permission(permission text) from public;
grant execute on function app_hidden.require_permission(permission text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/require_permission.sql
--! Included app_hidden/reset_password.sql
-- app_hidden/reset_password.sql: the current definition of app_hidden.reset_password. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/reset_password.sql).

create or replace function app_hidden.reset_password(token text, new_password text)
  returns boolean
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
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
$function$;
comment on function app_hidden.reset_password(token text, new_password text) is 'Sets a new password from a reset link (once), ends every session of the user, verifies the email and mails a notice. Security definer because it runs for anonymous callers.';
revoke all on function app_hidden.reset_password(token text, new_password text) from public;
grant execute on function app_hidden.reset_password(token text, new_password text) to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.reset_password(token text, new_password text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/reset_password.sql
--! Included app_hidden/schedule_step_after.sql
-- app_hidden/schedule_step_after.sql: the current definition of app_hidden.schedule_step_after. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/schedule_step_after.sql).

create or replace function app_hidden.schedule_step_after(organisation uuid, enrollment uuid, after_index integer, from_time timestamp with time zone)
  returns boolean
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  next_step record;
begin
  select s.id, s.delay_days into next_step
    from outreach.campaign_enrollments e
    join outreach.workflow_steps s on s.organisation_id = e.organisation_id and s.campaign_id = e.campaign_id
   where e.organisation_id = organisation and e.id = enrollment
     and s.is_active and s.step_index > after_index
   order by s.step_index
   limit 1;
  if next_step.id is null then return false; end if;
  insert into outreach.tasks (organisation_id, enrollment_id, workflow_step_id, scheduled_for)
  values (organisation, enrollment, next_step.id, from_time + make_interval(days => next_step.delay_days));
  return true;
end;
$function$;
comment on function app_hidden.schedule_step_after(organisation uuid, enrollment uuid, after_index integer, from_time timestamp with time zone) is 'Queues a task for the enrolment''s next active step after step_index after_index, delay_days after from_time; false when there is none.';
revoke all on function app_hidden.schedule_step_after(organisation uuid, enrollment uuid, after_index integer, from_time timestamp with time zone) from public;
--! EndIncluded app_hidden/schedule_step_after.sql
--! Included app_hidden/search_pattern.sql
-- app_hidden/search_pattern.sql: the current definition of app_hidden.search_pattern. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/search_pattern.sql).

create or replace function app_hidden.search_pattern(query text)
  returns text
  language sql
  immutable parallel safe strict
as $function$
  select '%' || replace(replace(replace(app_hidden.search_text(btrim(query)), '\', '\\'), '%', '\%'), '_', '\_') || '%';
$function$;
comment on function app_hidden.search_pattern(query text) is  E'The LIKE pattern that finds a search query anywhere in a search document; %, _ and \\ in the query match themselves.';
revoke all on function app_hidden.search_pattern(query text) from public;
grant execute on function app_hidden.search_pattern(query text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/search_pattern.sql
--! Included app_hidden/search_text.sql
-- app_hidden/search_text.sql: the current definition of app_hidden.search_text. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/search_text.sql).

create or replace function app_hidden.search_text(value text)
  returns text
  language sql
  immutable parallel safe strict
as $function$
  select lower(extensions.unaccent('extensions.unaccent'::regdictionary, value));
$function$;
comment on function app_hidden.search_text(value text) is 'Lower-case, accent-free text for search ("Léa" → "lea"). Immutable (unaccent itself is only stable, because its dictionary could change): the project never changes the dictionary, so index expressions may use it.';
revoke all on function app_hidden.search_text(value text) from public;
grant execute on function app_hidden.search_text(value text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/search_text.sql
--! Included app_hidden/set_password.sql
-- app_hidden/set_password.sql: the current definition of app_hidden.set_password. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/set_password.sql).

create or replace function app_hidden.set_password(user_id uuid, password text)
  returns void
  language sql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  insert into app_private.user_secrets (user_id, password_hash)
  values (user_id, public.crypt(password, public.gen_salt('bf', 10)))
  on conflict (user_id) do update set password_hash = excluded.password_hash;
$function$;
comment on function app_hidden.set_password(user_id uuid, password text) is 'Stores a bcrypt hash of the password (cost 10).';
revoke all on function app_hidden.set_password(user_id uuid, password text) from public;
--! EndIncluded app_hidden/set_password.sql
--! Included app_hidden/setting_as_uuid.sql
-- app_hidden/setting_as_uuid.sql: the current definition of app_hidden.setting_as_uuid. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/setting_as_uuid.sql).

create or replace function app_hidden.setting_as_uuid(setting_name text)
  returns uuid
  language plpgsql
  stable
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  raw_value text := nullif(current_setting(setting_name, true), '');
begin
  if raw_value is null then
    raise exception 'No tenant context: % is not set for this transaction', setting_name
      using errcode = 'PT001',
            hint = 'Send a bearer token; in SQL, set app.organisation_id and app.user_id with set_config(..., true), '
                   'or use pg_temp.authenticate_as() from test/rls/helpers.sql.';
  end if;
  if raw_value !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception 'Invalid tenant context: % is not a UUID', setting_name
      using errcode = 'PT002';
  end if;
  return raw_value::uuid;
end;
$function$;
comment on function app_hidden.setting_as_uuid(setting_name text) is 'Reads a transaction setting that must hold a UUID; fails closed when it is missing, empty or malformed.';
revoke all on function app_hidden.setting_as_uuid(setting_name text) from public;
grant execute on function app_hidden.setting_as_uuid(setting_name text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/setting_as_uuid.sql
--! Included app_hidden/start_session.sql
-- app_hidden/start_session.sql: the current definition of app_hidden.start_session. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/start_session.sql).

create or replace function app_hidden.start_session(user_id uuid, organisation_id uuid, lifetime_seconds integer)
  returns app_hidden.session_grant
  language sql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
  insert into app_private.sessions (user_id, organisation_id, expires_at)
  values (user_id, organisation_id, now() + make_interval(secs => least(greatest(lifetime_seconds, 60), 2592000)))
  returning user_id, organisation_id, id, expires_at;
$function$;
comment on function app_hidden.start_session(user_id uuid, organisation_id uuid, lifetime_seconds integer) is 'Opens a session for a member, valid for lifetime_seconds (1 minute to 30 days).';
revoke all on function app_hidden.start_session(user_id uuid, organisation_id uuid, lifetime_seconds integer) from public;
--! EndIncluded app_hidden/start_session.sql
--! Included app_hidden/switch_organisation.sql
-- app_hidden/switch_organisation.sql: the current definition of app_hidden.switch_organisation. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/switch_organisation.sql).

create or replace function app_hidden.switch_organisation(organisation_id uuid, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  member uuid := app_hidden.current_user_id();
  target_status text;
begin
  select o.status into target_status
    from iam.organisation_users m join iam.organisations o on o.id = m.organisation_id
   where m.user_id = member and m.organisation_id = switch_organisation.organisation_id and m.status = 'active';
  if target_status is null then
    raise exception 'Not a member: you are not an active member of that organisation' using errcode = 'PT003';
  end if;
  if target_status <> 'active' then
    raise exception 'Organisation suspended: its members cannot use it until it is reactivated' using errcode = 'PT006';
  end if;
  return app_hidden.start_session(member, switch_organisation.organisation_id, lifetime_seconds);
end;
$function$;
comment on function app_hidden.switch_organisation(organisation_id uuid, lifetime_seconds integer) is 'Opens a session in another organisation the signed-in user actively belongs to. Security definer because it reads memberships of other organisations and writes sessions.';
revoke all on function app_hidden.switch_organisation(organisation_id uuid, lifetime_seconds integer) from public;
grant execute on function app_hidden.switch_organisation(organisation_id uuid, lifetime_seconds integer) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/switch_organisation.sql
--! Included app_hidden/tenant_settings_key.sql
-- app_hidden/tenant_settings_key.sql: the current definition of app_hidden.tenant_settings_key. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tenant_settings_key.sql).

create or replace function app_hidden.tenant_settings_key()
  returns text
  language sql
  stable
as $function$
  select coalesce(pg_catalog.current_setting('app.organisation_id', true), '') || '/' ||
         coalesce(pg_catalog.current_setting('app.user_id', true), '') || '/' ||
         coalesce(pg_catalog.current_setting('app.session_id', true), '')
$function$;
comment on function app_hidden.tenant_settings_key() is 'The tenant settings (organisation, user, session) as one text: what a verified tenant check is valid for. A verified key holds two UUIDs and a UUID or nothing, so it never matches settings that were not verified.';
revoke all on function app_hidden.tenant_settings_key() from public;
grant execute on function app_hidden.tenant_settings_key() to :DATABASE_VISITOR;
--! EndIncluded app_hidden/tenant_settings_key.sql
--! Included app_hidden/tg__audit.sql
-- app_hidden/tg__audit.sql: the current definition of app_hidden.tg__audit. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg__audit.sql).

create or replace function app_hidden.tg__audit()
  returns trigger
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  old_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  new_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  changed_row jsonb := coalesce(new_row, old_row);
  -- iam.organisations is its own organisation.
  organisation uuid := coalesce(changed_row->>'organisation_id', changed_row->>'id')::uuid;
  changed text[] := '{}'::text[];
begin
  -- Rows removed with their organisation are not audited: the log goes with them.
  if tg_op = 'DELETE' and not exists (select 1 from iam.organisations o where o.id = organisation) then
    return null;
  end if;
  if tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}'::text[]) into changed
      from jsonb_each(new_row) n where n.value is distinct from old_row -> n.key and n.key <> 'updated_at';
    if changed = '{}'::text[] then return null; end if;
  elsif tg_op = 'INSERT' then
    select coalesce(array_agg(n.key order by n.key), '{}'::text[]) into changed
      from jsonb_each(new_row) n where n.value <> 'null'::jsonb;
  end if;
  insert into iam.audit_log (organisation_id, user_id, table_name, row_id, action, changed_columns)
  values (
    organisation,
    nullif(current_setting('app.user_id', true), '')::uuid,
    tg_table_schema || '.' || tg_table_name,
    case when tg_nargs = 0 then changed_row->>'id'
         else array_to_string(array(select changed_row->>key_column from unnest(tg_argv) key_column), ',') end,
    lower(tg_op),
    changed
  );
  return null;
end;
$function$;
comment on function app_hidden.tg__audit() is 'Trigger: records an insert, update or delete in iam.audit_log (trigger arguments name the key columns of tables without an id). Security definer because nobody may write the audit log directly.';
revoke all on function app_hidden.tg__audit() from public;
--! EndIncluded app_hidden/tg__audit.sql
--! Included app_hidden/tg__forget_verified_member.sql
-- app_hidden/tg__forget_verified_member.sql: the current definition of app_hidden.tg__forget_verified_member. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg__forget_verified_member.sql).

create or replace function app_hidden.tg__forget_verified_member()
  returns trigger
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  perform set_config('app_hidden.verified_member', '', true);
  return null;
end;
$function$;
comment on function app_hidden.tg__forget_verified_member() is 'Trigger: a membership, organisation or session changed, so the tenant check verified earlier in this transaction (app_hidden.current_member_role) is made again at the next statement.';
revoke all on function app_hidden.tg__forget_verified_member() from public;
--! EndIncluded app_hidden/tg__forget_verified_member.sql
--! Included app_hidden/tg__set_updated_at.sql
-- app_hidden/tg__set_updated_at.sql: the current definition of app_hidden.tg__set_updated_at. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg__set_updated_at.sql).

create or replace function app_hidden.tg__set_updated_at()
  returns trigger
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  new.updated_at := now();
  return new;
end;
$function$;
comment on function app_hidden.tg__set_updated_at() is 'Trigger function: keeps updated_at equal to the time of the last update.';
revoke all on function app_hidden.tg__set_updated_at() from public;
--! EndIncluded app_hidden/tg__set_updated_at.sql
--! Included app_hidden/tg_audit_log__append_only.sql
-- app_hidden/tg_audit_log__append_only.sql: the current definition of app_hidden.tg_audit_log__append_only. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg_audit_log__append_only.sql).

create or replace function app_hidden.tg_audit_log__append_only()
  returns trigger
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  -- The only way out: the organisation itself being deleted (its rows go with it).
  if tg_op = 'DELETE' and not exists (select 1 from iam.organisations o where o.id = old.organisation_id) then
    return old;
  end if;
  raise exception 'Forbidden: the audit log cannot be changed' using errcode = 'PT004';
end;
$function$;
comment on function app_hidden.tg_audit_log__append_only() is 'Trigger: the audit log is append-only, for every role including the owner.';
revoke all on function app_hidden.tg_audit_log__append_only() from public;
--! EndIncluded app_hidden/tg_audit_log__append_only.sql
--! Included app_hidden/tg_campaign_enrollments__cancel_on_stop.sql
-- app_hidden/tg_campaign_enrollments__cancel_on_stop.sql: the current definition of app_hidden.tg_campaign_enrollments__cancel_on_stop. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg_campaign_enrollments__cancel_on_stop.sql).

create or replace function app_hidden.tg_campaign_enrollments__cancel_on_stop()
  returns trigger
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  if new.state in ('completed', 'replied', 'bounced', 'unsubscribed', 'stopped') and old.state in ('active', 'paused') then
    update outreach.tasks set status = 'cancelled'
     where organisation_id = new.organisation_id and enrollment_id = new.id and status = 'queued';
  end if;
  return null;
end;
$function$;
comment on function app_hidden.tg_campaign_enrollments__cancel_on_stop() is 'Trigger: an enrolment that ends (stopped, unsubscribed, bounced, completed, replied) has its queued tasks cancelled. Security definer because the visitor may not write tasks; acts only on the updated row''s organisation.';
revoke all on function app_hidden.tg_campaign_enrollments__cancel_on_stop() from public;
--! EndIncluded app_hidden/tg_campaign_enrollments__cancel_on_stop.sql
--! Included app_hidden/tg_campaign_enrollments__schedule_first_step.sql
-- app_hidden/tg_campaign_enrollments__schedule_first_step.sql: the current definition of app_hidden.tg_campaign_enrollments__schedule_first_step. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg_campaign_enrollments__schedule_first_step.sql).

create or replace function app_hidden.tg_campaign_enrollments__schedule_first_step()
  returns trigger
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  perform app_hidden.schedule_step_after(new.organisation_id, new.id, -1, new.enrolled_at);
  perform app_hidden.count_campaign_day(new.organisation_id, new.campaign_id, (new.enrolled_at at time zone 'UTC')::date, 'enrolled');
  return null;
end;
$function$;
comment on function app_hidden.tg_campaign_enrollments__schedule_first_step() is 'Trigger: a new enrolment gets a task for its campaign''s first active step at enrolled_at + delay_days. Security definer because the visitor may not write tasks or figures; it acts only on the new row''s organisation, which the insert policy has already checked.';
revoke all on function app_hidden.tg_campaign_enrollments__schedule_first_step() from public;
--! EndIncluded app_hidden/tg_campaign_enrollments__schedule_first_step.sql
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
            translate(encode(public.gen_random_bytes(24), 'base64'), '+/', '-_'));
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
--! Included app_hidden/tg_organisation_users__record_account_origin.sql
-- app_hidden/tg_organisation_users__record_account_origin.sql: the current definition of app_hidden.tg_organisation_users__record_account_origin. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg_organisation_users__record_account_origin.sql).

create or replace function app_hidden.tg_organisation_users__record_account_origin()
  returns trigger
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  insert into app_private.account_origins as o (user_id, created_for_organisation_id)
  values (new.user_id, new.organisation_id)
  on conflict (user_id) do update set joined_another_at = coalesce(o.joined_another_at, now())
   where o.created_for_organisation_id <> excluded.created_for_organisation_id;
  return null;
end;
$function$;
comment on function app_hidden.tg_organisation_users__record_account_origin() is 'Trigger: an account''s first membership names the organisation it was created for; a membership elsewhere marks it as having joined another. Security definer because app_private is closed to the roles that add members.';
revoke all on function app_hidden.tg_organisation_users__record_account_origin() from public;
--! EndIncluded app_hidden/tg_organisation_users__record_account_origin.sql
--! Included app_hidden/tg_tasks__assign_variant.sql
-- app_hidden/tg_tasks__assign_variant.sql: the current definition of app_hidden.tg_tasks__assign_variant. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/tg_tasks__assign_variant.sql).

create or replace function app_hidden.tg_tasks__assign_variant()
  returns trigger
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  experiment uuid;
  chosen uuid;
begin
  select x.id into experiment
    from outreach.step_experiments x
   where x.organisation_id = new.organisation_id and x.workflow_step_id = new.workflow_step_id and x.status = 'running';
  if experiment is null then return null; end if;
  -- Deterministic weighted choice: the enrolment's hash picks a point in [0, total weight).
  with variants as (
    select v.id,
           sum(v.weight) over (order by v.key, v.id) as upper_bound,
           sum(v.weight) over () as total_weight
      from outreach.step_experiment_variants v
     where v.organisation_id = new.organisation_id and v.step_experiment_id = experiment
  )
  select v.id into chosen
    from variants v
   where (('x' || substr(md5(new.enrollment_id::text || ':' || experiment::text), 1, 8))::bit(32)::bigint
          % v.total_weight) < v.upper_bound
   order by v.upper_bound
   limit 1;
  if chosen is null then return null; end if;
  insert into outreach.enrollment_step_variant_assignments
    (organisation_id, enrollment_id, workflow_step_id, step_experiment_id, variant_id)
  values (new.organisation_id, new.enrollment_id, new.workflow_step_id, experiment, chosen)
  on conflict do nothing;
  if found then
    perform app_hidden.count_variant(new.organisation_id, experiment, chosen, 'assigned');
  end if;
  return null;
end;
$function$;
comment on function app_hidden.tg_tasks__assign_variant() is 'Trigger: when an enrolment reaches a step with a running experiment, records its variant once, chosen by weight from a hash of the enrolment (the same enrolment always gets the same variant). Security definer because the visitor may not write assignments; acts only on the new task''s organisation.';
revoke all on function app_hidden.tg_tasks__assign_variant() from public;
--! EndIncluded app_hidden/tg_tasks__assign_variant.sql
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
$function$;
comment on function app_hidden.user_token(token text, purpose text) is 'The unused, unexpired token row of a mailed link (locked), or a TOKEN_INVALID / TOKEN_EXPIRED error.';
revoke all on function app_hidden.user_token(token text, purpose text) from public;
--! EndIncluded app_hidden/user_token.sql
--! Included app_hidden/verify_email.sql
-- app_hidden/verify_email.sql: the current definition of app_hidden.verify_email. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/verify_email.sql).

create or replace function app_hidden.verify_email(token text)
  returns boolean
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  found_token app_private.tokens := app_hidden.user_token(token, 'verify_email');
begin
  update app_private.tokens t set used_at = now() where t.id = found_token.id;
  update iam.users u set email_verified_at = coalesce(u.email_verified_at, now()) where u.id = found_token.user_id;
  return true;
end;
$function$;
comment on function app_hidden.verify_email(token text) is 'Marks the account of a verification link as verified (the link works once). Security definer because it runs for anonymous callers.';
revoke all on function app_hidden.verify_email(token text) from public;
grant execute on function app_hidden.verify_email(token text) to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.verify_email(token text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/verify_email.sql
--! Included app_hidden/verify_tenant.sql
-- app_hidden/verify_tenant.sql: the current definition of app_hidden.verify_tenant. Change the function by
-- editing this file and including it from the current migration (--!include app_hidden/verify_tenant.sql).

create or replace function app_hidden.verify_tenant(setting_name text)
  returns uuid
  language plpgsql
  stable
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  perform app_hidden.current_member_role();
  return app_hidden.setting_as_uuid(setting_name);
end;
$function$;
comment on function app_hidden.verify_tenant(setting_name text) is 'Checks the tenant context (app_hidden.current_member_role, failing closed) and returns the named setting as a UUID.';
revoke all on function app_hidden.verify_tenant(setting_name text) from public;
grant execute on function app_hidden.verify_tenant(setting_name text) to :DATABASE_VISITOR;
--! EndIncluded app_hidden/verify_tenant.sql
--! Included crm/people_status_counts.sql
-- crm/people_status_counts.sql: the current definition of crm.people_status_counts. Change the function by
-- editing this file and including it from the current migration (--!include crm/people_status_counts.sql).

create or replace function crm.people_status_counts()
  returns setof crm.person_status_count
  language sql
  stable
as $function$
  select s.value, (select count(*) from crm.people p where p.status = s.value)::integer
    from reference.person_statuses s
   order by s.sort_order;
$function$;
comment on function crm.people_status_counts() is '@behavior -connection +list
@listSuffix omit
Your organisation''s people counted by status (every status, 0 when none).';
revoke all on function crm.people_status_counts() from public;
grant execute on function crm.people_status_counts() to :DATABASE_VISITOR;
--! EndIncluded crm/people_status_counts.sql
--! Included iam/accept_invitation.sql
-- iam/accept_invitation.sql: the current definition of iam.accept_invitation. Change the function by
-- editing this file and including it from the current migration (--!include iam/accept_invitation.sql).

create or replace function iam.accept_invitation(token text)
  returns iam.organisation_users
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  member uuid := app_hidden.current_user_id();
  invitation iam.invitations := app_hidden.open_invitation(token);
  account iam.users;
begin
  select u.* into account from iam.users u where u.id = member;
  if account.email operator(public.<>) invitation.email then
    raise exception 'Invitation invalid: it was sent to another email address than yours' using errcode = 'PT040';
  end if;
  if account.email_verified_at is null then
    raise exception 'Email not verified: confirm your email address before accepting an invitation' using errcode = 'PT042';
  end if;
  return app_hidden.join_invitation(invitation, member);
end;
$function$;
comment on function iam.accept_invitation(token text) is 'Accepts an invitation with the token of its link, for the signed-in user whose verified email it was sent to; then switchOrganisation signs in to the new organisation.';
revoke all on function iam.accept_invitation(token text) from public;
grant execute on function iam.accept_invitation(token text) to :DATABASE_VISITOR;
--! EndIncluded iam/accept_invitation.sql
--! Included iam/accept_ownership.sql
-- iam/accept_ownership.sql: the current definition of iam.accept_ownership. Change the function by
-- editing this file and including it from the current migration (--!include iam/accept_ownership.sql).

create or replace function iam.accept_ownership()
  returns iam.organisation_users
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  member uuid := app_hidden.current_user_id();
  offer iam.ownership_transfers;
  new_owner iam.organisation_users;
begin
  select t.* into offer from iam.ownership_transfers t
   where t.organisation_id = organisation and t.to_user_id = member
     and t.accepted_at is null and t.cancelled_at is null and t.expires_at > now()
   for update;
  if offer.id is null then
    raise exception 'Not found: no ownership offer is waiting for you in this organisation' using errcode = 'PT011';
  end if;
  -- The one who offered must still be the owner.
  update iam.organisation_users m set role = 'admin'
   where m.organisation_id = organisation and m.user_id = offer.from_user_id and m.role = 'owner';
  if not found then
    update iam.ownership_transfers t set cancelled_at = now() where t.organisation_id = organisation and t.id = offer.id;
    raise exception 'Not found: the member who offered ownership is no longer the owner' using errcode = 'PT011';
  end if;
  update iam.organisation_users m set role = 'owner'
   where m.organisation_id = organisation and m.user_id = member
  returning * into new_owner;
  update iam.ownership_transfers t set accepted_at = now() where t.organisation_id = organisation and t.id = offer.id;
  return new_owner;
end;
$function$;
comment on function iam.accept_ownership() is 'Accepts the ownership offered to you in this organisation: you become the owner, the previous owner an admin.';
revoke all on function iam.accept_ownership() from public;
grant execute on function iam.accept_ownership() to :DATABASE_VISITOR;
--! EndIncluded iam/accept_ownership.sql
--! Included iam/change_member_role.sql
-- iam/change_member_role.sql: the current definition of iam.change_member_role. Change the function by
-- editing this file and including it from the current migration (--!include iam/change_member_role.sql).

create or replace function iam.change_member_role(user_id uuid, role text)
  returns iam.organisation_users
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  current_role_of_target text;
  membership iam.organisation_users;
begin
  perform app_hidden.require_permission('members.manage');
  if role is null or role not in ('admin', 'member', 'viewer') then
    raise exception 'Invalid input: role must be admin, member or viewer (use transferOwnership for owner)' using errcode = '22023';
  end if;
  select m.role into current_role_of_target from iam.organisation_users m
   where m.organisation_id = organisation and m.user_id = change_member_role.user_id for update;
  if current_role_of_target is null then
    raise exception 'Not found: this user is not a member of your organisation' using errcode = 'PT011';
  end if;
  if current_role_of_target = 'owner' then
    raise exception 'Owner required: the owner''s role cannot be changed; transfer ownership first' using errcode = 'PT023';
  end if;
  update iam.organisation_users m set role = change_member_role.role
   where m.organisation_id = organisation and m.user_id = change_member_role.user_id
  returning * into membership;
  return membership;
end;
$function$;
comment on function iam.change_member_role(user_id uuid, role text) is 'Changes a member''s role (not the owner''s). Needs members.manage.';
revoke all on function iam.change_member_role(user_id uuid, role text) from public;
grant execute on function iam.change_member_role(user_id uuid, role text) to :DATABASE_VISITOR;
--! EndIncluded iam/change_member_role.sql
--! Included iam/delete_current_organisation.sql
-- iam/delete_current_organisation.sql: the current definition of iam.delete_current_organisation. Change the function by
-- editing this file and including it from the current migration (--!include iam/delete_current_organisation.sql).

create or replace function iam.delete_current_organisation(confirmation_slug text)
  returns jsonb
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  actor uuid := app_hidden.current_user_id();
  organisation_slug text;
begin
  perform app_hidden.require_permission('organisation.delete');
  select o.slug into organisation_slug from iam.organisations o where o.id = organisation;
  if confirmation_slug is distinct from organisation_slug then
    raise exception 'Confirmation mismatch: type the organisation''s slug to confirm its deletion' using errcode = 'PT022';
  end if;
  return app_hidden.delete_organisation_data(organisation, actor);
end;
$function$;
comment on function iam.delete_current_organisation(confirmation_slug text) is 'Deletes your organisation and everything in it, for good (GDPR). Only the owner, with the slug as confirmation. Returns what was removed, per table.';
revoke all on function iam.delete_current_organisation(confirmation_slug text) from public;
grant execute on function iam.delete_current_organisation(confirmation_slug text) to :DATABASE_VISITOR;
--! EndIncluded iam/delete_current_organisation.sql
--! Included iam/invitations_status.sql
-- iam/invitations_status.sql: the current definition of iam.invitations_status. Change the function by
-- editing this file and including it from the current migration (--!include iam/invitations_status.sql).

create or replace function iam.invitations_status(invitation iam.invitations)
  returns text
  language sql
  stable
as $function$
  select case
           when invitation.accepted_at is not null then 'accepted'
           when invitation.revoked_at is not null then 'revoked'
           when invitation.expires_at <= pg_catalog.now() then 'expired'
           else 'pending'
         end
$function$;
comment on function iam.invitations_status(invitation iam.invitations) is 'pending, accepted, revoked or expired.';
revoke all on function iam.invitations_status(invitation iam.invitations) from public;
grant execute on function iam.invitations_status(invitation iam.invitations) to :DATABASE_VISITOR;
--! EndIncluded iam/invitations_status.sql
--! Included iam/invite_member.sql
-- iam/invite_member.sql: the current definition of iam.invite_member. Change the function by
-- editing this file and including it from the current migration (--!include iam/invite_member.sql).

create or replace function iam.invite_member(email text, role text)
  returns iam.invitations
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
#variable_conflict use_column
declare
  organisation uuid := app_hidden.current_organisation_id();
  inviter uuid := app_hidden.current_user_id();
  address text := trim(email);
  invitation iam.invitations;
begin
  perform app_hidden.require_permission('members.manage');
  if not exists (select 1 from iam.users u where u.id = inviter and u.email_verified_at is not null) then
    raise exception 'Email not verified: confirm your own email address before inviting anyone' using errcode = 'PT042';
  end if;
  if invite_member.role is null or invite_member.role not in ('admin', 'member', 'viewer') then
    raise exception 'Invalid input: role must be admin, member or viewer (use transferOwnership for owner)' using errcode = '22023';
  end if;
  if address is null or address !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(address) > 255 then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  -- Only this organisation's own members are looked up: nothing is said about accounts elsewhere.
  if exists (
    select 1 from iam.organisation_users m join iam.users u on u.id = m.user_id
     where m.organisation_id = organisation and m.status = 'active' and u.email operator(public.=) address::public.citext
  ) then
    raise exception 'Already exists: this address belongs to a member of your organisation' using errcode = 'PT021';
  end if;
  -- An expired invitation no longer blocks a new one.
  update iam.invitations i set revoked_at = now()
   where i.organisation_id = organisation and i.email operator(public.=) address::public.citext
     and i.accepted_at is null and i.revoked_at is null and i.expires_at <= now();
  insert into iam.invitations (organisation_id, email, role, invited_by_user_id)
  values (organisation, address, invite_member.role, inviter)
  on conflict (organisation_id, email) where accepted_at is null and revoked_at is null do nothing
  returning * into invitation;
  if invitation.id is null then
    raise exception 'Already exists: an invitation to this address is open; resend or revoke it' using errcode = 'PT021';
  end if;
  perform app_hidden.queue_invitation_mail(invitation);
  return invitation;
end;
$function$;
comment on function iam.invite_member(email text, role text) is 'Invites an address to join your organisation with a role (admin, member or viewer): mails a secret link valid 7 days. The answer is the same whether the address has an account. Needs members.manage and a verified email.';
revoke all on function iam.invite_member(email text, role text) from public;
grant execute on function iam.invite_member(email text, role text) to :DATABASE_VISITOR;
--! EndIncluded iam/invite_member.sql
--! Included iam/logout.sql
-- iam/logout.sql: the current definition of iam.logout. Change the function by
-- editing this file and including it from the current migration (--!include iam/logout.sql).

create or replace function iam.logout()
  returns boolean
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  member uuid := app_hidden.current_user_id();
begin
  if nullif(current_setting('app.session_id', true), '') is null then
    return false;
  end if;
  update app_private.sessions s set revoked_at = now()
   where s.id = app_hidden.setting_as_uuid('app.session_id') and s.user_id = member and s.revoked_at is null;
  return found;
end;
$function$;
comment on function iam.logout() is 'Signs out: revokes the session of the token used for this request, which is refused from the next request on.';
revoke all on function iam.logout() from public;
grant execute on function iam.logout() to :DATABASE_VISITOR;
--! EndIncluded iam/logout.sql
--! Included iam/remove_member.sql
-- iam/remove_member.sql: the current definition of iam.remove_member. Change the function by
-- editing this file and including it from the current migration (--!include iam/remove_member.sql).

create or replace function iam.remove_member(user_id uuid)
  returns iam.organisation_users
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  removed iam.organisation_users;
begin
  perform app_hidden.require_permission('members.manage');
  select * into removed from iam.organisation_users m
   where m.organisation_id = organisation and m.user_id = remove_member.user_id for update;
  if removed.user_id is null then
    raise exception 'Not found: this user is not a member of your organisation' using errcode = 'PT011';
  end if;
  if removed.role = 'owner' then
    raise exception 'Owner required: the owner cannot be removed; transfer ownership first' using errcode = 'PT023';
  end if;
  delete from iam.organisation_users m where m.organisation_id = organisation and m.user_id = remove_member.user_id;
  update app_private.sessions s set revoked_at = now()
   where s.organisation_id = organisation and s.user_id = remove_member.user_id and s.revoked_at is null;
  return removed;
end;
$function$;
comment on function iam.remove_member(user_id uuid) is 'Removes a member (not the owner) and ends their sessions in this organisation. Needs members.manage.';
revoke all on function iam.remove_member(user_id uuid) from public;
grant execute on function iam.remove_member(user_id uuid) to :DATABASE_VISITOR;
--! EndIncluded iam/remove_member.sql
--! Included iam/resend_invitation.sql
-- iam/resend_invitation.sql: the current definition of iam.resend_invitation. Change the function by
-- editing this file and including it from the current migration (--!include iam/resend_invitation.sql).

create or replace function iam.resend_invitation(invitation_id uuid)
  returns iam.invitations
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  invitation iam.invitations;
begin
  perform app_hidden.require_permission('members.manage');
  update iam.invitations i set expires_at = now() + interval '7 days'
   where i.organisation_id = organisation and i.id = resend_invitation.invitation_id
     and i.accepted_at is null and i.revoked_at is null
  returning * into invitation;
  if invitation.id is null then
    raise exception 'Not found: no open invitation with this id in your organisation' using errcode = 'PT011';
  end if;
  perform app_hidden.queue_invitation_mail(invitation);
  return invitation;
end;
$function$;
comment on function iam.resend_invitation(invitation_id uuid) is 'Mails an open invitation again with a new link (the previous link stops working) valid 7 more days. Needs members.manage.';
revoke all on function iam.resend_invitation(invitation_id uuid) from public;
grant execute on function iam.resend_invitation(invitation_id uuid) to :DATABASE_VISITOR;
--! EndIncluded iam/resend_invitation.sql
--! Included iam/revoke_invitation.sql
-- iam/revoke_invitation.sql: the current definition of iam.revoke_invitation. Change the function by
-- editing this file and including it from the current migration (--!include iam/revoke_invitation.sql).

create or replace function iam.revoke_invitation(invitation_id uuid)
  returns iam.invitations
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  invitation iam.invitations;
begin
  perform app_hidden.require_permission('members.manage');
  update iam.invitations i set revoked_at = now()
   where i.organisation_id = organisation and i.id = revoke_invitation.invitation_id
     and i.accepted_at is null and i.revoked_at is null
  returning * into invitation;
  if invitation.id is null then
    raise exception 'Not found: no open invitation with this id in your organisation' using errcode = 'PT011';
  end if;
  update app_private.tokens t set used_at = now(), token_hash = null
   where t.organisation_id = organisation and t.invitation_id = invitation.id;
  update app_private.mail_outbox b set status = 'cancelled'
   where b.status = 'pending' and b.token_id in (
     select t.id from app_private.tokens t where t.organisation_id = organisation and t.invitation_id = invitation.id);
  return invitation;
end;
$function$;
comment on function iam.revoke_invitation(invitation_id uuid) is 'Revokes an open invitation: its link stops working at once. Needs members.manage.';
revoke all on function iam.revoke_invitation(invitation_id uuid) from public;
grant execute on function iam.revoke_invitation(invitation_id uuid) to :DATABASE_VISITOR;
--! EndIncluded iam/revoke_invitation.sql
--! Included iam/transfer_ownership.sql
-- iam/transfer_ownership.sql: the current definition of iam.transfer_ownership. Change the function by
-- editing this file and including it from the current migration (--!include iam/transfer_ownership.sql).

create or replace function iam.transfer_ownership(user_id uuid)
  returns iam.ownership_transfers
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  current_owner uuid := app_hidden.current_user_id();
  recipient iam.users;
  offer iam.ownership_transfers;
begin
  perform app_hidden.require_permission('ownership.transfer');
  select u.* into recipient
    from iam.organisation_users m join iam.users u on u.id = m.user_id
   where m.organisation_id = organisation and m.user_id = transfer_ownership.user_id and m.status = 'active'
     and m.user_id <> current_owner;
  if recipient.id is null then
    raise exception 'Not found: ownership goes to another active member of your organisation' using errcode = 'PT011';
  end if;
  -- One offer at a time: a new one replaces the previous.
  update iam.ownership_transfers t set cancelled_at = now()
   where t.organisation_id = organisation and t.accepted_at is null and t.cancelled_at is null;
  insert into iam.ownership_transfers (organisation_id, from_user_id, to_user_id)
  values (organisation, current_owner, recipient.id)
  returning * into offer;
  perform app_hidden.queue_mail('ownership_offer', recipient.email,
    coalesce(recipient.locale, app_hidden.organisation_locale(organisation)),
    jsonb_build_object(
      'organisationName', (select o.name from iam.organisations o where o.id = organisation),
      'organisationSlug', (select o.slug from iam.organisations o where o.id = organisation),
      'offeredBy', app_hidden.display_name(current_owner),
      'expiresAt', offer.expires_at),
    organisation, null);
  return offer;
end;
$function$;
comment on function iam.transfer_ownership(user_id uuid) is 'Offers ownership to another active member (mailed to them); nothing changes until they accept it with acceptOwnership within 7 days. A new offer replaces the previous one. Needs ownership.transfer (the owner).';
revoke all on function iam.transfer_ownership(user_id uuid) from public;
grant execute on function iam.transfer_ownership(user_id uuid) to :DATABASE_VISITOR;
--! EndIncluded iam/transfer_ownership.sql
--! Included outreach/campaigns_daily_performance.sql
-- outreach/campaigns_daily_performance.sql: the current definition of outreach.campaigns_daily_performance. Change the function by
-- editing this file and including it from the current migration (--!include outreach/campaigns_daily_performance.sql).

create or replace function outreach.campaigns_daily_performance(campaign outreach.campaigns, from_day date, to_day date)
  returns setof outreach.daily_performance
  language sql
  stable
as $function$
  select d.day, d.enrolled::integer, d.emails_sent::integer, d.emails_opened::integer, d.emails_clicked::integer,
         d.emails_replied::integer
    from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id
     and d.day between from_day and to_day
   order by d.day;
$function$;
comment on function outreach.campaigns_daily_performance(campaign outreach.campaigns, from_day date, to_day date) is 'The campaign''s figures per day (UTC) from from_day to to_day inclusive; days without activity are absent.';
revoke all on function outreach.campaigns_daily_performance(campaign outreach.campaigns, from_day date, to_day date) from public;
grant execute on function outreach.campaigns_daily_performance(campaign outreach.campaigns, from_day date, to_day date) to :DATABASE_VISITOR;
--! EndIncluded outreach/campaigns_daily_performance.sql
--! Included outreach/campaigns_enrollment_state_counts.sql
-- outreach/campaigns_enrollment_state_counts.sql: the current definition of outreach.campaigns_enrollment_state_counts. Change the function by
-- editing this file and including it from the current migration (--!include outreach/campaigns_enrollment_state_counts.sql).

create or replace function outreach.campaigns_enrollment_state_counts(campaign outreach.campaigns)
  returns setof outreach.enrollment_state_count
  language sql
  stable
as $function$
  select s.value,
         (select count(*) from outreach.campaign_enrollments e
           where e.organisation_id = campaign.organisation_id and e.campaign_id = campaign.id and e.state = s.value)::integer
    from reference.enrollment_states s
   order by s.sort_order;
$function$;
comment on function outreach.campaigns_enrollment_state_counts(campaign outreach.campaigns) is '@behavior -connection +list
@listSuffix omit
The campaign''s enrolments counted by state (every state, 0 when none).';
revoke all on function outreach.campaigns_enrollment_state_counts(campaign outreach.campaigns) from public;
grant execute on function outreach.campaigns_enrollment_state_counts(campaign outreach.campaigns) to :DATABASE_VISITOR;
--! EndIncluded outreach/campaigns_enrollment_state_counts.sql
--! Included outreach/campaigns_performance.sql
-- outreach/campaigns_performance.sql: the current definition of outreach.campaigns_performance. Change the function by
-- editing this file and including it from the current migration (--!include outreach/campaigns_performance.sql).

create or replace function outreach.campaigns_performance(campaign outreach.campaigns)
  returns outreach.performance
  language sql
  stable
as $function$
  select coalesce(sum(d.enrolled), 0)::integer, coalesce(sum(d.emails_sent), 0)::integer,
         coalesce(sum(d.emails_opened), 0)::integer, coalesce(sum(d.emails_replied), 0)::integer,
         round(sum(d.emails_opened)::numeric / nullif(sum(d.emails_sent), 0), 4)::double precision,
         round(sum(d.emails_replied)::numeric / nullif(sum(d.emails_sent), 0), 4)::double precision
    from tracking.campaign_daily_stats d
   where d.organisation_id = campaign.organisation_id and d.campaign_id = campaign.id;
$function$;
comment on function outreach.campaigns_performance(campaign outreach.campaigns) is 'The campaign''s totals: enrolled, sent, opened, replied, open rate and reply rate.';
revoke all on function outreach.campaigns_performance(campaign outreach.campaigns) from public;
grant execute on function outreach.campaigns_performance(campaign outreach.campaigns) to :DATABASE_VISITOR;
--! EndIncluded outreach/campaigns_performance.sql
--! Included outreach/claim_due_tasks.sql
-- outreach/claim_due_tasks.sql: the current definition of outreach.claim_due_tasks. Change the function by
-- editing this file and including it from the current migration (--!include outreach/claim_due_tasks.sql).

create or replace function outreach.claim_due_tasks(max_tasks integer, worker_id text, lock_timeout_seconds integer default 300)
  returns setof outreach.tasks
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
begin
  perform app_hidden.require_permission('data.write');
  if max_tasks is null or max_tasks not between 1 and 1000 then
    raise exception 'Invalid input: max_tasks must be between 1 and 1000' using errcode = '22023';
  end if;
  if worker_id is null or length(worker_id) not between 1 and 200 then
    raise exception 'Invalid input: worker_id must be 1 to 200 characters' using errcode = '22023';
  end if;
  if lock_timeout_seconds is null or lock_timeout_seconds not between 1 and 86400 then
    raise exception 'Invalid input: lock_timeout_seconds must be between 1 and 86400' using errcode = '22023';
  end if;
  perform app_hidden.recover_expired_tasks(organisation, lock_timeout_seconds);
  return query
  with due as (
    select t.organisation_id, t.id
      from outreach.tasks t
      join outreach.campaign_enrollments e on e.organisation_id = t.organisation_id and e.id = t.enrollment_id
      join outreach.campaigns c on c.organisation_id = e.organisation_id and c.id = e.campaign_id
     where t.organisation_id = organisation
       and t.status = 'queued' and t.scheduled_for <= now()
       and e.state = 'active' and c.status = 'active'
     order by t.scheduled_for, t.id
     limit max_tasks
     for update of t skip locked
  )
  update outreach.tasks t
     set status = 'processing', locked_at = now(), locked_by = worker_id, attempts = t.attempts + 1
    from due
   where t.organisation_id = due.organisation_id and t.id = due.id
  returning t.*;
end;
$function$;
comment on function outreach.claim_due_tasks(max_tasks integer, worker_id text, lock_timeout_seconds integer) is 'Claims up to max_tasks due tasks of your organisation for worker_id (active enrolments of active campaigns, oldest first); two workers never get the same task. First, tasks claimed more than lock_timeout_seconds ago (default 300) that were neither completed, failed nor heartbeat go back to the queue (their attempt counted; failed if it was the last). Security definer because tasks are not writable directly; it checks your membership and role and touches only your organisation.';
revoke all on function outreach.claim_due_tasks(max_tasks integer, worker_id text, lock_timeout_seconds integer) from public;
grant execute on function outreach.claim_due_tasks(max_tasks integer, worker_id text, lock_timeout_seconds integer) to :DATABASE_VISITOR;
--! EndIncluded outreach/claim_due_tasks.sql
--! Included outreach/complete_task.sql
-- outreach/complete_task.sql: the current definition of outreach.complete_task. Change the function by
-- editing this file and including it from the current migration (--!include outreach/complete_task.sql).

create or replace function outreach.complete_task(task_id uuid)
  returns outreach.tasks
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  done outreach.tasks;
  step_index integer;
begin
  perform app_hidden.require_permission('data.write');
  perform app_hidden.lock_processing_task(organisation, task_id, 'completed');
  update outreach.tasks t
     set status = 'completed', completed_at = now(), locked_at = null, locked_by = null
   where t.organisation_id = organisation and t.id = task_id
  returning t.* into done;
  select s.step_index into step_index
    from outreach.workflow_steps s where s.organisation_id = organisation and s.id = done.workflow_step_id;
  if not app_hidden.schedule_step_after(organisation, done.enrollment_id, step_index, now()) then
    update outreach.campaign_enrollments e set state = 'completed', last_activity_at = now()
     where e.organisation_id = organisation and e.id = done.enrollment_id and e.state = 'active';
  end if;
  return done;
end;
$function$;
comment on function outreach.complete_task(task_id uuid) is 'Marks a processing task completed and queues the enrolment''s next active step (or completes the enrolment). Security definer because tasks are not writable directly; checks membership and role, touches only your organisation.';
revoke all on function outreach.complete_task(task_id uuid) from public;
grant execute on function outreach.complete_task(task_id uuid) to :DATABASE_VISITOR;
--! EndIncluded outreach/complete_task.sql
--! Included outreach/daily_totals.sql
-- outreach/daily_totals.sql: the current definition of outreach.daily_totals. Change the function by
-- editing this file and including it from the current migration (--!include outreach/daily_totals.sql).

create or replace function outreach.daily_totals(from_day date, to_day date)
  returns setof outreach.daily_performance
  language plpgsql
  stable
as $function$
begin
  if from_day is null or to_day is null or from_day > to_day or to_day - from_day > 366 then
    raise exception 'Invalid input: fromDay and toDay must be a range of at most 367 days, fromDay first.'
      using errcode = 'PT130';
  end if;
  return query
    select g.day::date, coalesce(sum(d.enrolled), 0)::integer, coalesce(sum(d.emails_sent), 0)::integer,
           coalesce(sum(d.emails_opened), 0)::integer, coalesce(sum(d.emails_clicked), 0)::integer,
           coalesce(sum(d.emails_replied), 0)::integer
      from generate_series(from_day, to_day, interval '1 day') as g(day)
      left join tracking.campaign_daily_stats d
        on d.organisation_id = (select app_hidden.current_organisation_id()) and d.day = g.day::date
     group by g.day
     order by g.day;
end;
$function$;
comment on function outreach.daily_totals(from_day date, to_day date) is '@behavior -connection +list
@listSuffix omit
Your organisation''s figures per day (UTC) over every campaign, from fromDay to toDay inclusive (at most 367 days); days without activity are 0.';
revoke all on function outreach.daily_totals(from_day date, to_day date) from public;
grant execute on function outreach.daily_totals(from_day date, to_day date) to :DATABASE_VISITOR;
--! EndIncluded outreach/daily_totals.sql
--! Included outreach/fail_task.sql
-- outreach/fail_task.sql: the current definition of outreach.fail_task. Change the function by
-- editing this file and including it from the current migration (--!include outreach/fail_task.sql).

create or replace function outreach.fail_task(task_id uuid, error_message text)
  returns outreach.tasks
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  failed outreach.tasks;
begin
  perform app_hidden.require_permission('data.write');
  perform app_hidden.lock_processing_task(organisation, task_id, 'failed');
  update outreach.tasks t
     set status = case when t.attempts >= t.max_attempts then 'failed' else 'queued' end,
         -- Exponential backoff: 2, 4, 8… minutes after each failed attempt, at most a day.
         scheduled_for = case when t.attempts >= t.max_attempts then t.scheduled_for
                              else now() + make_interval(mins => least(power(2, t.attempts)::integer, 1440)) end,
         last_error = left(error_message, 10000), locked_at = null, locked_by = null
   where t.organisation_id = organisation and t.id = task_id
  returning t.* into failed;
  return failed;
end;
$function$;
comment on function outreach.fail_task(task_id uuid, error_message text) is 'Records a failed attempt of a processing task: queued again with exponential backoff, or failed once max_attempts is reached. Security definer because tasks are not writable directly; checks membership and role.';
revoke all on function outreach.fail_task(task_id uuid, error_message text) from public;
grant execute on function outreach.fail_task(task_id uuid, error_message text) to :DATABASE_VISITOR;
--! EndIncluded outreach/fail_task.sql
--! Included outreach/heartbeat_task.sql
-- outreach/heartbeat_task.sql: the current definition of outreach.heartbeat_task. Change the function by
-- editing this file and including it from the current migration (--!include outreach/heartbeat_task.sql).

create or replace function outreach.heartbeat_task(task_id uuid, worker_id text)
  returns outreach.tasks
  language plpgsql
  security definer
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  organisation uuid := app_hidden.current_organisation_id();
  alive outreach.tasks;
begin
  perform app_hidden.require_permission('data.write');
  if worker_id is null or length(worker_id) not between 1 and 200 then
    raise exception 'Invalid input: worker_id must be 1 to 200 characters' using errcode = '22023';
  end if;
  perform app_hidden.lock_processing_task(organisation, task_id, 'heartbeat');
  update outreach.tasks t
     set locked_at = now(), updated_at = now()
   where t.organisation_id = organisation and t.id = task_id and t.locked_by = worker_id
  returning t.* into alive;
  if alive.id is null then
    raise exception 'Task claimed by another worker: % no longer holds this task; stop working on it', worker_id
      using errcode = 'PT120';
  end if;
  return alive;
end;
$function$;
comment on function outreach.heartbeat_task(task_id uuid, worker_id text) is 'Tells the queue that worker_id is still working on this processing task: its lock is renewed, so claims do not return it to the queue. Refused (TASK_LOCK_LOST) when the task went back to the queue and another worker holds it. Security definer because tasks are not writable directly; checks membership and role.';
revoke all on function outreach.heartbeat_task(task_id uuid, worker_id text) from public;
grant execute on function outreach.heartbeat_task(task_id uuid, worker_id text) to :DATABASE_VISITOR;
--! EndIncluded outreach/heartbeat_task.sql
--! Included outreach/message_status_counts.sql
-- outreach/message_status_counts.sql: the current definition of outreach.message_status_counts. Change the function by
-- editing this file and including it from the current migration (--!include outreach/message_status_counts.sql).

create or replace function outreach.message_status_counts()
  returns setof outreach.message_status_count
  language sql
  stable
as $function$
  select s.value, (select count(*) from outreach.messages m where m.status = s.value)::integer
    from reference.message_statuses s
   order by s.sort_order;
$function$;
comment on function outreach.message_status_counts() is '@behavior -connection +list
@listSuffix omit
Your organisation''s messages counted by status (every status, 0 when none).';
revoke all on function outreach.message_status_counts() from public;
grant execute on function outreach.message_status_counts() to :DATABASE_VISITOR;
--! EndIncluded outreach/message_status_counts.sql
--! Included outreach/step_experiment_variants_performance.sql
-- outreach/step_experiment_variants_performance.sql: the current definition of outreach.step_experiment_variants_performance. Change the function by
-- editing this file and including it from the current migration (--!include outreach/step_experiment_variants_performance.sql).

create or replace function outreach.step_experiment_variants_performance(variant outreach.step_experiment_variants)
  returns outreach.performance
  language sql
  stable
as $function$
  select coalesce(s.assigned, 0)::integer, coalesce(s.emails_sent, 0)::integer, coalesce(s.emails_opened, 0)::integer,
         coalesce(s.emails_replied, 0)::integer,
         round(s.emails_opened::numeric / nullif(s.emails_sent, 0), 4)::double precision,
         round(s.emails_replied::numeric / nullif(s.emails_sent, 0), 4)::double precision
    from (select 1) as one
    left join tracking.variant_stats s on s.organisation_id = variant.organisation_id and s.variant_id = variant.id;
$function$;
comment on function outreach.step_experiment_variants_performance(variant outreach.step_experiment_variants) is 'The A/B variant''s figures: enrolments assigned, sent, opened, replied, open rate and reply rate.';
revoke all on function outreach.step_experiment_variants_performance(variant outreach.step_experiment_variants) from public;
grant execute on function outreach.step_experiment_variants_performance(variant outreach.step_experiment_variants) to :DATABASE_VISITOR;
--! EndIncluded outreach/step_experiment_variants_performance.sql
--! Included outreach/task_status_counts.sql
-- outreach/task_status_counts.sql: the current definition of outreach.task_status_counts. Change the function by
-- editing this file and including it from the current migration (--!include outreach/task_status_counts.sql).

create or replace function outreach.task_status_counts()
  returns setof outreach.task_status_count
  language sql
  stable
as $function$
  select s.value, (select count(*) from outreach.tasks t where t.status = s.value)::integer
    from reference.task_statuses s
   order by s.sort_order;
$function$;
comment on function outreach.task_status_counts() is '@behavior -connection +list
@listSuffix omit
Your organisation''s tasks counted by status (every status, 0 when none).';
revoke all on function outreach.task_status_counts() from public;
grant execute on function outreach.task_status_counts() to :DATABASE_VISITOR;
--! EndIncluded outreach/task_status_counts.sql
--! Included outreach/tg_assignments__immutable.sql
-- outreach/tg_assignments__immutable.sql: the current definition of outreach.tg_assignments__immutable. Change the function by
-- editing this file and including it from the current migration (--!include outreach/tg_assignments__immutable.sql).

create or replace function outreach.tg_assignments__immutable()
  returns trigger
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  raise exception 'A/B assignments never change once recorded' using errcode = 'PT010';
end;
$function$;
comment on function outreach.tg_assignments__immutable() is 'Trigger: refuses any update of an A/B assignment, whoever runs it.';
revoke all on function outreach.tg_assignments__immutable() from public;
--! EndIncluded outreach/tg_assignments__immutable.sql
--! Included outreach/tg_campaigns__set_created_by.sql
-- outreach/tg_campaigns__set_created_by.sql: the current definition of outreach.tg_campaigns__set_created_by. Change the function by
-- editing this file and including it from the current migration (--!include outreach/tg_campaigns__set_created_by.sql).

create or replace function outreach.tg_campaigns__set_created_by()
  returns trigger
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  -- Requests always carry a user; rows written by the owner (imports, fixtures) may have none.
  if new.created_by_user_id is null and nullif(current_setting('app.user_id', true), '') is not null then
    new.created_by_user_id := app_hidden.current_user_id();
  end if;
  return new;
end;
$function$;
comment on function outreach.tg_campaigns__set_created_by() is 'Trigger: records the signed-in member as the campaign''s creator.';
revoke all on function outreach.tg_campaigns__set_created_by() from public;
--! EndIncluded outreach/tg_campaigns__set_created_by.sql
--! Included outreach/tg_messages__fill_provenance.sql
-- outreach/tg_messages__fill_provenance.sql: the current definition of outreach.tg_messages__fill_provenance. Change the function by
-- editing this file and including it from the current migration (--!include outreach/tg_messages__fill_provenance.sql).

create or replace function outreach.tg_messages__fill_provenance()
  returns trigger
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  original record;
begin
  if new.direction = 'outbound' then
    if new.task_id is not null then
      select t.enrollment_id, t.workflow_step_id,
             a.step_experiment_id, a.variant_id, e.campaign_id, e.position_id
        into original
        from outreach.tasks t
        join outreach.campaign_enrollments e on e.organisation_id = t.organisation_id and e.id = t.enrollment_id
        left join outreach.enrollment_step_variant_assignments a
          on a.organisation_id = t.organisation_id and a.enrollment_id = t.enrollment_id and a.workflow_step_id = t.workflow_step_id
       where t.organisation_id = new.organisation_id and t.id = new.task_id;
      if found then
        new.enrollment_id := coalesce(new.enrollment_id, original.enrollment_id);
        new.step_experiment_id := coalesce(new.step_experiment_id, original.step_experiment_id);
        new.variant_id := coalesce(new.variant_id, original.variant_id);
        new.campaign_id := coalesce(new.campaign_id, original.campaign_id);
        new.position_id := coalesce(new.position_id, original.position_id);
      end if;
    elsif new.enrollment_id is not null then
      select e.campaign_id, e.position_id into original
        from outreach.campaign_enrollments e where e.organisation_id = new.organisation_id and e.id = new.enrollment_id;
      new.campaign_id := coalesce(new.campaign_id, original.campaign_id);
      new.position_id := coalesce(new.position_id, original.position_id);
    end if;
    if new.status = 'sent' and new.sent_at is null then
      new.sent_at := now();
    end if;
  elsif tg_op = 'INSERT' then
    new.received_at := coalesce(new.received_at, now());
    -- Match the thread: the outbound message this replies to.
    select m.enrollment_id, m.campaign_id, m.position_id into original
      from outreach.messages m
     where m.organisation_id = new.organisation_id and m.direction = 'outbound'
       and ((new.provider_thread_id is not null and m.provider_thread_id = new.provider_thread_id)
         or (new.in_reply_to is not null and m.rfc822_message_id = new.in_reply_to))
     order by m.sent_at desc nulls last
     limit 1;
    if found then
      new.enrollment_id := coalesce(new.enrollment_id, original.enrollment_id);
      new.campaign_id := coalesce(new.campaign_id, original.campaign_id);
      new.position_id := coalesce(new.position_id, original.position_id);
    end if;
  end if;
  return new;
end;
$function$;
comment on function outreach.tg_messages__fill_provenance() is 'Trigger: an outbound message records the enrolment, campaign, experiment and variant of its task; an inbound message is matched to the outbound message of the same thread (provider_thread_id or in_reply_to).';
revoke all on function outreach.tg_messages__fill_provenance() from public;
--! EndIncluded outreach/tg_messages__fill_provenance.sql
--! Included outreach/tg_prompts__versioning.sql
-- outreach/tg_prompts__versioning.sql: the current definition of outreach.tg_prompts__versioning. Change the function by
-- editing this file and including it from the current migration (--!include outreach/tg_prompts__versioning.sql).

create or replace function outreach.tg_prompts__versioning()
  returns trigger
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  if tg_op = 'INSERT' and new.version is null then
    -- Serialise version numbering per (organisation, name).
    perform pg_advisory_xact_lock(hashtextextended(new.organisation_id::text || '/' || new.name, 0));
    select coalesce(max(p.version), 0) + 1 into new.version
      from outreach.prompts p where p.organisation_id = new.organisation_id and p.name = new.name;
  end if;
  if new.is_active then
    update outreach.prompts p set is_active = false
     where p.organisation_id = new.organisation_id and p.name = new.name and p.id <> new.id and p.is_active;
  end if;
  return new;
end;
$function$;
comment on function outreach.tg_prompts__versioning() is 'Trigger: numbers new prompt versions and keeps a single active version per name.';
revoke all on function outreach.tg_prompts__versioning() from public;
--! EndIncluded outreach/tg_prompts__versioning.sql
--! Included outreach/tg_tasks__allowed_transition.sql
-- outreach/tg_tasks__allowed_transition.sql: the current definition of outreach.tg_tasks__allowed_transition. Change the function by
-- editing this file and including it from the current migration (--!include outreach/tg_tasks__allowed_transition.sql).

create or replace function outreach.tg_tasks__allowed_transition()
  returns trigger
  language plpgsql
  set search_path to 'pg_catalog', 'pg_temp'
as $function$
begin
  if new.status is distinct from old.status and not (
       (old.status = 'queued' and new.status in ('processing', 'cancelled'))
    or (old.status = 'processing' and new.status in ('completed', 'queued', 'failed', 'cancelled'))
  ) then
    raise exception 'Invalid task transition: a % task cannot become %', old.status, new.status
      using errcode = 'PT010';
  end if;
  return new;
end;
$function$;
comment on function outreach.tg_tasks__allowed_transition() is 'Trigger: tasks move only along the allowed state transitions.';
revoke all on function outreach.tg_tasks__allowed_transition() from public;
--! EndIncluded outreach/tg_tasks__allowed_transition.sql
