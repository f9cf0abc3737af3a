-- Runs as the superuser in the project's database after the migrations (restrictExtensionFunctions
-- in src/db/extension-rights.ts: at every start, and in the test setup). The extensions' functions
-- belong to the bootstrap superuser (the owner creates citext, pgcrypto, pg_trgm, unaccent and
-- btree_gin as trusted extensions), so only a superuser can take back the EXECUTE that PostgreSQL
-- gives PUBLIC on every new function. Idempotent; placeholders as in the migrations.
do $$
declare
  owner_role text := (select pg_get_userbyid(datdba) from pg_database where datname = current_database());
  f record;
begin
  for f in
    select p.oid::regprocedure as fn,
           -- What the visitor's own queries evaluate (test/extensions.test.ts, ALLOWED, says why):
           -- the functions behind citext's operators (the email CHECK constraints' regular
           -- expressions; PostGraphile's conditions, filters and ordering on email columns) and
           -- the search's unaccent (index expressions, app_hidden.search_text) and word_similarity.
           (e.extname = 'citext' and exists (select 1 from pg_operator o where o.oprcode = p.oid))
             or p.oid::regprocedure::text in ('extensions.unaccent(regdictionary,text)',
                                             'extensions.word_similarity(text,text)') as visitor
      from pg_proc p
      join pg_depend d on d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
      join pg_extension e on e.oid = d.refobjid
     where e.extname in ('citext', 'pgcrypto', 'pg_trgm', 'unaccent', 'btree_gin')
  loop
    execute format('revoke execute on function %s from public', f.fn);
    -- The owner's functions (security definer ones, index expressions) call them as the owner.
    execute format('grant execute on function %s to %I', f.fn, owner_role);
    if f.visitor then
      execute format('grant execute on function %s to :DATABASE_VISITOR', f.fn);
    else
      execute format('revoke execute on function %s from :DATABASE_VISITOR, :DATABASE_ANONYMOUS', f.fn);
    end if;
  end loop;
end
$$;
