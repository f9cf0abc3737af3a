-- Loses: when each account verified its email and its mail language (iam.users.email_verified_at, locale), where each account came from (app_private.account_origins), every invitation still stored (accepted or revoked; open ones 420's revert made memberships again), every ownership offer, every mailed link's token and the whole mail outbox (unsent mail is never sent).
-- Revert part of migrations/current/400-membership-tables.sql (see README, "Migrations: rolling
-- one back"): drops the account-origin trigger and its function, the outbox, tokens, ownership
-- offers, invitations (with their status function) and account origins tables, with their
-- indexes, policies and grants, and the two columns it added to iam.users (with their comments and
-- the visitor's update grant on locale; the grant on first_name and last_name is 000001's and stays).
-- Applying 400 again back-fills email_verified_at for every account with a password.
drop trigger _200_record_account_origin on iam.organisation_users;
drop function app_hidden.tg_organisation_users__record_account_origin();
drop table app_private.mail_outbox;
drop table app_private.tokens;
drop table iam.ownership_transfers;
drop function iam.invitations_status(iam.invitations);
drop table iam.invitations;
drop table app_private.account_origins;
alter table iam.users drop column email_verified_at, drop column locale;
