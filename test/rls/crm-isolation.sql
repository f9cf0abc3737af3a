-- Two organisations side by side: each member sees and changes only its own contacts.
-- Everything happens in one transaction that is rolled back: the database is left as it was.
begin;

insert into iam.organisations (id, name, slug) values
  ('aaaaaaaa-0000-4000-8000-000000000001', 'RLS script A', 'rls-script-a'),
  ('bbbbbbbb-0000-4000-8000-000000000001', 'RLS script B', 'rls-script-b');
insert into iam.users (id, email) values
  ('aaaaaaaa-0000-4000-8000-0000000000a1', 'member@rls-a.test'),
  ('aaaaaaaa-0000-4000-8000-0000000000a2', 'viewer@rls-a.test'),
  ('bbbbbbbb-0000-4000-8000-0000000000b1', 'member@rls-b.test');
insert into iam.organisation_users (organisation_id, user_id, role) values
  ('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'member'),
  ('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-0000000000a2', 'viewer'),
  ('bbbbbbbb-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'member');
insert into crm.companies (organisation_id, id, name) values
  ('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-0000000000c1', 'Company of A'),
  ('bbbbbbbb-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-0000000000c1', 'Company of B');
insert into crm.people (organisation_id, id, email) values
  ('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-0000000000d1', 'person@rls-a.test'),
  ('bbbbbbbb-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-0000000000d1', 'person@rls-b.test');

-- A member of A
select pg_temp.authenticate_as('member@rls-a.test', 'rls-script-a');
select pg_temp.assert_equal((select count(*)::int from crm.people), 1, 'a member of A sees one person');
select pg_temp.assert_equal((select email::text from crm.people), 'person@rls-a.test', '... and it is A''s');
select pg_temp.assert_equal((select count(*)::int from crm.companies where name = 'Company of B'), 0, 'B''s company is invisible');
select pg_temp.assert_equal((select count(*)::int from iam.organisations), 1, 'only its own organisation is visible');
with changed as (update crm.people set first_name = 'Hacked' where email = 'person@rls-b.test' returning 1)
select pg_temp.assert_equal((select count(*)::int from changed), 0, 'B''s person cannot be updated');
with removed as (delete from crm.companies where id = 'bbbbbbbb-0000-4000-8000-0000000000c1' returning 1)
select pg_temp.assert_equal((select count(*)::int from removed), 0, 'B''s company cannot be deleted');
select pg_temp.assert_fails(
  $$insert into crm.people (organisation_id, email) values ('bbbbbbbb-0000-4000-8000-000000000001', 'x@rls-b.test')$$,
  '42501', 'a person cannot be inserted into B');
select pg_temp.assert_fails(
  $$insert into crm.positions (person_id, company_id)
    values ('bbbbbbbb-0000-4000-8000-0000000000d1', 'aaaaaaaa-0000-4000-8000-0000000000c1')$$,
  '23503', 'A''s position cannot point at B''s person');
with added as (insert into crm.people (email) values ('new@rls-a.test') returning organisation_id)
select pg_temp.assert_equal((select organisation_id from added), 'aaaaaaaa-0000-4000-8000-000000000001'::uuid,
  'a new person lands in A without naming the organisation');

-- A viewer of A
select pg_temp.authenticate_as('viewer@rls-a.test', 'rls-script-a');
select pg_temp.assert_equal((select count(*)::int from crm.people), 2, 'a viewer of A reads A''s people');
select pg_temp.assert_fails($$insert into crm.people (email) values ('v@rls-a.test')$$, 'PT004', 'a viewer cannot insert');
select pg_temp.assert_fails($$update crm.people set first_name = 'V'$$, 'PT004', 'a viewer cannot update');
select pg_temp.assert_fails($$delete from crm.people$$, 'PT004', 'a viewer cannot delete');

-- The member of B sees B's person and nothing of A
select pg_temp.authenticate_as('member@rls-b.test', 'rls-script-b');
select pg_temp.assert_equal((select string_agg(email::text, ',') from crm.people), 'person@rls-b.test', 'B sees only B''s person');

-- No token
select pg_temp.authenticate_anonymously();
select pg_temp.assert_fails($$select count(*) from crm.people$$, '42501', 'an anonymous request reads nothing');

rollback;
