-- Membership by consent (issue 11), part 5: the mailer's side of the outbox. A mailer claims due
-- messages with FOR UPDATE SKIP LOCKED under a lease (several mailers never take one message), the
-- token of a link is drawn at that moment (its hash stored, the token returned once to be mailed),
-- and the outcome is recorded. A lease that runs out while a message is being sent means its mailer
-- died between sending and recording: whether the mail left is unknown, so the message becomes
-- `uncertain` and is not sent again (at most once across a crash; every known failure is retried).
-- Idempotent: it drops what it creates, then creates or replaces.

drop function if exists app_hidden.claim_mail(text, integer, integer);
drop function if exists app_hidden.mail_sent(uuid, text);
drop function if exists app_hidden.mail_failed(uuid, text, text, boolean, integer);
drop type if exists app_hidden.claimed_mail;

create type app_hidden.claimed_mail as (
  id uuid,
  kind text,
  recipient text,
  locale text,
  params jsonb,
  message_id text,
  attempts integer,
  token text
);
comment on type app_hidden.claimed_mail is 'A message the mailer now holds: what to render and, for a link, its token (never stored).';

create function app_hidden.claim_mail(worker text, batch_size integer, lease_seconds integer)
  returns setof app_hidden.claimed_mail
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
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
$$;
comment on function app_hidden.claim_mail(text, integer, integer) is
  'Claims up to batch_size due messages for this mailer under a lease (SKIP LOCKED: concurrent mailers take '
  'different rows), draws the token of each link (storing only its hash) and returns them; marks messages whose '
  'mailer died mid-send as uncertain. Security definer: the mailer''s role reads no table itself.';

create function app_hidden.mail_sent(message uuid, worker text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
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
$$;
comment on function app_hidden.mail_sent(uuid, text) is
  'Records that the mail server accepted the message. Security definer: the mailer''s role reads no table itself.';

create function app_hidden.mail_failed(message uuid, worker text, error text, permanent boolean, retry_after_ms integer)
  returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
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
$$;
comment on function app_hidden.mail_failed(uuid, text, text, boolean, integer) is
  'Records a failed attempt: back to pending after retry_after_ms (the mailer''s backoff), or failed for good when '
  'the mail server refused the message permanently. Security definer: the mailer''s role reads no table itself.';

grant execute on function app_hidden.claim_mail(text, integer, integer), app_hidden.mail_sent(uuid, text),
  app_hidden.mail_failed(uuid, text, text, boolean, integer) to :DATABASE_VISITOR;
