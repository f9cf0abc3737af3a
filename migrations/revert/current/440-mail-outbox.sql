-- Loses no data: the outbox (and its messages) is 400's; mail still pending is no longer sent, as no function claims it.
-- Revert part of migrations/current/440-mail-outbox.sql (see README, "Migrations: rolling one
-- back"): drops the mailer's functions (claim_mail, mail_sent, mail_failed) and their result type.
-- A mailer still running after the revert fails on its next claim (the function is gone).
drop function app_hidden.claim_mail(text, integer, integer);
drop function app_hidden.mail_sent(uuid, text);
drop function app_hidden.mail_failed(uuid, text, text, boolean, integer);
drop type app_hidden.claimed_mail;
