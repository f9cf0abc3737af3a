--! Reverts: sha1:44c52c33a2ebc7a115525cd1ac59c21e38670a50

-- No-op: reverts 000009 (functions in fixtures), which changed nothing. It re-created every function exactly as
-- the migrations before it left them (the rollback test proves it: this empty revert gives back
-- 000008's catalog), so reverting it changes no object and loses no data.
select 1;
