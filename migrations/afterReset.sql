-- Runs as the superuser after graphile-migrate (re)creates a database (the shadow
-- database during `commit`, or a reset): only the owner and the server's
-- authenticator may connect to it.
revoke all on database :DATABASE_NAME from public;
grant connect on database :DATABASE_NAME to :DATABASE_OWNER;
