--! Reverts: sha1:9df6d1c1e8620461286d224258feb139fcf0065f

-- Reverts 000003 (outreach and tracking): drops both schemas and the helpers 000003 added to
-- app_hidden. Loses every prompt, campaign, step, A/B test, enrolment, task, message and open.
drop schema tracking cascade;
drop schema outreach cascade;

drop function app_hidden.record_open(text, inet, text);
drop function app_hidden.tg_messages__after_send_or_reply();
drop function app_hidden.tg_tasks__assign_variant();
drop function app_hidden.tg_campaign_enrollments__cancel_on_stop();
drop function app_hidden.tg_campaign_enrollments__schedule_first_step();
drop function app_hidden.lock_processing_task(uuid, uuid, text);
drop function app_hidden.schedule_step_after(uuid, uuid, integer, timestamptz);
drop function app_hidden.count_variant(uuid, uuid, uuid, text);
drop function app_hidden.count_campaign_day(uuid, uuid, date, text);

-- The pixel endpoint's anonymous role reached app_hidden only for record_open.
revoke usage on schema app_hidden from :DATABASE_ANONYMOUS;
