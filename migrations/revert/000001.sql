--! Reverts: sha1:ad31c23b5d164cd524114b794998c58dfbf04547

-- Reverts 000001 (iam and tenant context): back to the empty database graphile-migrate starts from.
-- Loses every organisation, user, membership and password hash.
drop schema iam cascade;
drop schema app_private cascade;
drop schema app_hidden cascade;

-- citext and pgcrypto were created by 000001 (on an empty database): nothing else may use them now.
drop extension citext;
drop extension pgcrypto;

-- The default rights of PostgreSQL 15+ on the public schema and on new functions.
revoke all on schema public from :DATABASE_OWNER, :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
grant usage on schema public to public;
alter default privileges grant execute on functions to public;
