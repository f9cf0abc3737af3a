-- Loses: every throttle counter (app_throttle.counters): attempts counted so far start again from zero.
-- Revert part of migrations/current/200-throttle-counters.sql (see README, "Migrations: rolling one
-- back"): drops the schema it created, with its table, index and the serving roles' grants on them.
-- Without the table a production server refuses to start (development counts in memory).
drop schema app_throttle cascade;
