-- Reverts 540 (the invitation role lookup table): loses nothing; the CHECK of 400 comes back.
alter table iam.invitations drop constraint if exists invitations_role_valid;
drop table if exists reference.invitation_roles;
alter table iam.invitations add constraint invitations_role_valid check (role in ('admin', 'member', 'viewer'));
