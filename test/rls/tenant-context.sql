-- Without a valid tenant context, queries fail with a clear error instead of returning nothing.
begin;

insert into iam.organisations (id, name, slug) values ('cccccccc-0000-4000-8000-000000000001', 'RLS script C', 'rls-script-c');
insert into iam.users (id, email) values ('cccccccc-0000-4000-8000-0000000000a1', 'member@rls-c.test');
insert into iam.organisation_users (organisation_id, user_id, role)
  values ('cccccccc-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-0000000000a1', 'member');

select set_config('role', 'prospectflow_visitor', true);
select pg_temp.assert_fails($$select * from crm.people$$, 'PT001', 'no app.organisation_id: TENANT_MISSING');

select set_config('app.organisation_id', 'not-a-uuid', true), set_config('app.user_id', 'cccccccc-0000-4000-8000-0000000000a1', true);
select pg_temp.assert_fails($$select * from crm.people$$, 'PT002', 'a malformed app.organisation_id: TENANT_INVALID');

select set_config('app.organisation_id', 'cccccccc-0000-4000-8000-000000000001', true), set_config('app.user_id', '', true);
select pg_temp.assert_fails($$select * from crm.people$$, 'PT001', 'no app.user_id: TENANT_MISSING');

select set_config('app.user_id', 'dddddddd-0000-4000-8000-000000000001', true);
select pg_temp.assert_fails($$select * from crm.people$$, 'PT003', 'a user who is not a member: NOT_A_MEMBER');

select pg_temp.authenticate_as('member@rls-c.test', 'rls-script-c');
select pg_temp.assert_equal((select count(*)::int from crm.people), 0, 'an active member queries normally');

select pg_temp.authenticate_as_owner();
update iam.organisation_users set status = 'disabled' where user_id = 'cccccccc-0000-4000-8000-0000000000a1';
select set_config('role', 'prospectflow_visitor', true);
select pg_temp.assert_fails($$select * from crm.people$$, 'PT003', 'a disabled member: NOT_A_MEMBER');

rollback;
