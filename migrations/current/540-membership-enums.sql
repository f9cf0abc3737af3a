-- 540 membership enums: the role an invitation offers becomes a GraphQL enum like the other
-- roles (500). It is its own lookup table, not reference.member_roles: ownership is never
-- offered by invitation (transferOwnership does that), so `owner` is not a value. The CHECK
-- becomes a foreign key of the same name; rows are kept. Idempotent: drops the lookup table (and
-- with it the foreign key) first; the original CHECK once.
drop table if exists reference.invitation_roles cascade;
alter table iam.invitations drop constraint if exists invitations_role_valid;

create table reference.invitation_roles (
  value text not null primary key,
  description text not null,
  sort_order smallint not null unique
);
alter table reference.invitation_roles enable row level security;
create policy select_all on reference.invitation_roles for select using (true);
grant select on reference.invitation_roles to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.invitation_roles is E'@enum\n@enumName InvitationRole\nThe roles an invitation can offer (ownership is offered with transferOwnership, never by invitation).';
insert into reference.invitation_roles (value, description, sort_order) values
  ('admin', 'Manages members and settings', 1),
  ('member', 'Reads and writes the organisation''s data', 2),
  ('viewer', 'Reads only', 3);
alter table iam.invitations add constraint invitations_role_valid foreign key (role) references reference.invitation_roles (value);
