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

--!include app_hidden/claim_mail.sql
--!include app_hidden/create_organisation.sql
--!include app_hidden/login.sql
--!include app_hidden/open_invitation.sql
--!include app_hidden/register.sql
--!include app_hidden/set_password.sql
--!include app_hidden/tg_messages__after_send_or_reply.sql
--!include app_hidden/user_token.sql
