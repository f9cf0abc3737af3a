--! Previous: sha1:9df6d1c1e8620461286d224258feb139fcf0065f
--! Hash: sha1:f08e691ebbc00bff2bfbaf19cdfcce6902b5ed47
--! Message: identity and tenant lifecycle

-- Identity and tenant lifecycle: shared reference data, the role/permission matrix the policies
-- consult, sessions (revocable tokens), sign-up and login, members and ownership, organisation
-- settings, GDPR deletion, and an append-only audit log written by triggers.
-- Idempotent: it drops what it creates, so `graphile-migrate watch` can run it again and again.

drop function if exists app_hidden.tg__audit() cascade;
drop function if exists app_hidden.tg_audit_log__append_only() cascade;
drop table if exists iam.audit_log;
drop function if exists iam.delete_current_organisation(text);
drop function if exists app_hidden.delete_organisation_data(uuid, uuid);
drop table if exists app_private.organisation_deletions;
drop function if exists iam.transfer_ownership(uuid);
drop function if exists iam.remove_member(uuid);
drop function if exists iam.change_member_role(uuid, text);
drop function if exists iam.invite_member(text, text);
drop function if exists iam.logout();
drop function if exists app_hidden.switch_organisation(uuid, integer);
drop function if exists app_hidden.login(text, text, text, integer);
drop function if exists app_hidden.register(text, text, text, integer);
drop function if exists app_hidden.start_session(uuid, uuid, integer);
drop function if exists app_hidden.unique_slug(text);
drop function if exists app_hidden.check_password(text, text);
drop function if exists app_hidden.set_password(uuid, text);
drop type if exists app_hidden.session_grant;
drop table if exists app_private.sessions;
alter table iam.organisations drop column if exists timezone, drop column if exists country_code;
drop schema if exists reference cascade;

--------------------------------------------------------------------------------
-- reference: data shared by every tenant, outside tenant tables.

create schema reference;
comment on schema reference is 'Shared reference data every tenant reads: time zones, countries, the role permission matrix.';
grant usage on schema reference to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;

create table reference.time_zones (
  name text not null primary key
);
alter table reference.time_zones enable row level security;
create policy select_all on reference.time_zones for select using (true);
grant select on reference.time_zones to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.time_zones is 'IANA time zone names an organisation can choose (from the server''s time zone database).';
insert into reference.time_zones (name)
select name from pg_catalog.pg_timezone_names
 where name !~ '^(posix|right|SystemV)/' and name <> 'localtime'
 order by name;

create table reference.countries (
  code text not null primary key constraint countries_code_format check (code ~ '^[A-Z]{2}$'),
  name text not null
);
alter table reference.countries enable row level security;
create policy select_all on reference.countries for select using (true);
grant select on reference.countries to :DATABASE_VISITOR, :DATABASE_ANONYMOUS;
comment on table reference.countries is 'ISO 3166-1 countries (alpha-2 code and English short name).';
insert into reference.countries (code, name) values
  ('AD', 'Andorra'),
  ('AE', 'United Arab Emirates'),
  ('AF', 'Afghanistan'),
  ('AG', 'Antigua and Barbuda'),
  ('AI', 'Anguilla'),
  ('AL', 'Albania'),
  ('AM', 'Armenia'),
  ('AO', 'Angola'),
  ('AQ', 'Antarctica'),
  ('AR', 'Argentina'),
  ('AS', 'American Samoa'),
  ('AT', 'Austria'),
  ('AU', 'Australia'),
  ('AW', 'Aruba'),
  ('AX', 'Åland Islands'),
  ('AZ', 'Azerbaijan'),
  ('BA', 'Bosnia and Herzegovina'),
  ('BB', 'Barbados'),
  ('BD', 'Bangladesh'),
  ('BE', 'Belgium'),
  ('BF', 'Burkina Faso'),
  ('BG', 'Bulgaria'),
  ('BH', 'Bahrain'),
  ('BI', 'Burundi'),
  ('BJ', 'Benin'),
  ('BL', 'Saint Barthélemy'),
  ('BM', 'Bermuda'),
  ('BN', 'Brunei Darussalam'),
  ('BO', 'Bolivia'),
  ('BQ', 'Bonaire, Sint Eustatius and Saba'),
  ('BR', 'Brazil'),
  ('BS', 'Bahamas'),
  ('BT', 'Bhutan'),
  ('BV', 'Bouvet Island'),
  ('BW', 'Botswana'),
  ('BY', 'Belarus'),
  ('BZ', 'Belize'),
  ('CA', 'Canada'),
  ('CC', 'Cocos (Keeling) Islands'),
  ('CD', 'Congo, Democratic Republic of the'),
  ('CF', 'Central African Republic'),
  ('CG', 'Congo'),
  ('CH', 'Switzerland'),
  ('CI', 'Côte d''Ivoire'),
  ('CK', 'Cook Islands'),
  ('CL', 'Chile'),
  ('CM', 'Cameroon'),
  ('CN', 'China'),
  ('CO', 'Colombia'),
  ('CR', 'Costa Rica'),
  ('CU', 'Cuba'),
  ('CV', 'Cabo Verde'),
  ('CW', 'Curaçao'),
  ('CX', 'Christmas Island'),
  ('CY', 'Cyprus'),
  ('CZ', 'Czechia'),
  ('DE', 'Germany'),
  ('DJ', 'Djibouti'),
  ('DK', 'Denmark'),
  ('DM', 'Dominica'),
  ('DO', 'Dominican Republic'),
  ('DZ', 'Algeria'),
  ('EC', 'Ecuador'),
  ('EE', 'Estonia'),
  ('EG', 'Egypt'),
  ('EH', 'Western Sahara'),
  ('ER', 'Eritrea'),
  ('ES', 'Spain'),
  ('ET', 'Ethiopia'),
  ('FI', 'Finland'),
  ('FJ', 'Fiji'),
  ('FK', 'Falkland Islands (Malvinas)'),
  ('FM', 'Micronesia'),
  ('FO', 'Faroe Islands'),
  ('FR', 'France'),
  ('GA', 'Gabon'),
  ('GB', 'United Kingdom'),
  ('GD', 'Grenada'),
  ('GE', 'Georgia'),
  ('GF', 'French Guiana'),
  ('GG', 'Guernsey'),
  ('GH', 'Ghana'),
  ('GI', 'Gibraltar'),
  ('GL', 'Greenland'),
  ('GM', 'Gambia'),
  ('GN', 'Guinea'),
  ('GP', 'Guadeloupe'),
  ('GQ', 'Equatorial Guinea'),
  ('GR', 'Greece'),
  ('GS', 'South Georgia and the South Sandwich Islands'),
  ('GT', 'Guatemala'),
  ('GU', 'Guam'),
  ('GW', 'Guinea-Bissau'),
  ('GY', 'Guyana'),
  ('HK', 'Hong Kong'),
  ('HM', 'Heard Island and McDonald Islands'),
  ('HN', 'Honduras'),
  ('HR', 'Croatia'),
  ('HT', 'Haiti'),
  ('HU', 'Hungary'),
  ('ID', 'Indonesia'),
  ('IE', 'Ireland'),
  ('IL', 'Israel'),
  ('IM', 'Isle of Man'),
  ('IN', 'India'),
  ('IO', 'British Indian Ocean Territory'),
  ('IQ', 'Iraq'),
  ('IR', 'Iran'),
  ('IS', 'Iceland'),
  ('IT', 'Italy'),
  ('JE', 'Jersey'),
  ('JM', 'Jamaica'),
  ('JO', 'Jordan'),
  ('JP', 'Japan'),
  ('KE', 'Kenya'),
  ('KG', 'Kyrgyzstan'),
  ('KH', 'Cambodia'),
  ('KI', 'Kiribati'),
  ('KM', 'Comoros'),
  ('KN', 'Saint Kitts and Nevis'),
  ('KP', 'Korea, Democratic People''s Republic of'),
  ('KR', 'Korea, Republic of'),
  ('KW', 'Kuwait'),
  ('KY', 'Cayman Islands'),
  ('KZ', 'Kazakhstan'),
  ('LA', 'Lao People''s Democratic Republic'),
  ('LB', 'Lebanon'),
  ('LC', 'Saint Lucia'),
  ('LI', 'Liechtenstein'),
  ('LK', 'Sri Lanka'),
  ('LR', 'Liberia'),
  ('LS', 'Lesotho'),
  ('LT', 'Lithuania'),
  ('LU', 'Luxembourg'),
  ('LV', 'Latvia'),
  ('LY', 'Libya'),
  ('MA', 'Morocco'),
  ('MC', 'Monaco'),
  ('MD', 'Moldova'),
  ('ME', 'Montenegro'),
  ('MF', 'Saint Martin (French part)'),
  ('MG', 'Madagascar'),
  ('MH', 'Marshall Islands'),
  ('MK', 'North Macedonia'),
  ('ML', 'Mali'),
  ('MM', 'Myanmar'),
  ('MN', 'Mongolia'),
  ('MO', 'Macao'),
  ('MP', 'Northern Mariana Islands'),
  ('MQ', 'Martinique'),
  ('MR', 'Mauritania'),
  ('MS', 'Montserrat'),
  ('MT', 'Malta'),
  ('MU', 'Mauritius'),
  ('MV', 'Maldives'),
  ('MW', 'Malawi'),
  ('MX', 'Mexico'),
  ('MY', 'Malaysia'),
  ('MZ', 'Mozambique'),
  ('NA', 'Namibia'),
  ('NC', 'New Caledonia'),
  ('NE', 'Niger'),
  ('NF', 'Norfolk Island'),
  ('NG', 'Nigeria'),
  ('NI', 'Nicaragua'),
  ('NL', 'Netherlands'),
  ('NO', 'Norway'),
  ('NP', 'Nepal'),
  ('NR', 'Nauru'),
  ('NU', 'Niue'),
  ('NZ', 'New Zealand'),
  ('OM', 'Oman'),
  ('PA', 'Panama'),
  ('PE', 'Peru'),
  ('PF', 'French Polynesia'),
  ('PG', 'Papua New Guinea'),
  ('PH', 'Philippines'),
  ('PK', 'Pakistan'),
  ('PL', 'Poland'),
  ('PM', 'Saint Pierre and Miquelon'),
  ('PN', 'Pitcairn'),
  ('PR', 'Puerto Rico'),
  ('PS', 'Palestine, State of'),
  ('PT', 'Portugal'),
  ('PW', 'Palau'),
  ('PY', 'Paraguay'),
  ('QA', 'Qatar'),
  ('RE', 'Réunion'),
  ('RO', 'Romania'),
  ('RS', 'Serbia'),
  ('RU', 'Russian Federation'),
  ('RW', 'Rwanda'),
  ('SA', 'Saudi Arabia'),
  ('SB', 'Solomon Islands'),
  ('SC', 'Seychelles'),
  ('SD', 'Sudan'),
  ('SE', 'Sweden'),
  ('SG', 'Singapore'),
  ('SH', 'Saint Helena, Ascension and Tristan da Cunha'),
  ('SI', 'Slovenia'),
  ('SJ', 'Svalbard and Jan Mayen'),
  ('SK', 'Slovakia'),
  ('SL', 'Sierra Leone'),
  ('SM', 'San Marino'),
  ('SN', 'Senegal'),
  ('SO', 'Somalia'),
  ('SR', 'Suriname'),
  ('SS', 'South Sudan'),
  ('ST', 'Sao Tome and Principe'),
  ('SV', 'El Salvador'),
  ('SX', 'Sint Maarten (Dutch part)'),
  ('SY', 'Syrian Arab Republic'),
  ('SZ', 'Eswatini'),
  ('TC', 'Turks and Caicos Islands'),
  ('TD', 'Chad'),
  ('TF', 'French Southern Territories'),
  ('TG', 'Togo'),
  ('TH', 'Thailand'),
  ('TJ', 'Tajikistan'),
  ('TK', 'Tokelau'),
  ('TL', 'Timor-Leste'),
  ('TM', 'Turkmenistan'),
  ('TN', 'Tunisia'),
  ('TO', 'Tonga'),
  ('TR', 'Türkiye'),
  ('TT', 'Trinidad and Tobago'),
  ('TV', 'Tuvalu'),
  ('TW', 'Taiwan'),
  ('TZ', 'Tanzania'),
  ('UA', 'Ukraine'),
  ('UG', 'Uganda'),
  ('UM', 'United States Minor Outlying Islands'),
  ('US', 'United States of America'),
  ('UY', 'Uruguay'),
  ('UZ', 'Uzbekistan'),
  ('VA', 'Holy See'),
  ('VC', 'Saint Vincent and the Grenadines'),
  ('VE', 'Venezuela'),
  ('VG', 'Virgin Islands (British)'),
  ('VI', 'Virgin Islands (U.S.)'),
  ('VN', 'Viet Nam'),
  ('VU', 'Vanuatu'),
  ('WF', 'Wallis and Futuna'),
  ('WS', 'Samoa'),
  ('YE', 'Yemen'),
  ('YT', 'Mayotte'),
  ('ZA', 'South Africa'),
  ('ZM', 'Zambia'),
  ('ZW', 'Zimbabwe');

create table reference.permissions (
  name text not null primary key constraint permissions_name_format check (name ~ '^[a-z]+\.[a-z]+$'),
  description text not null
);
alter table reference.permissions enable row level security;
create policy select_all on reference.permissions for select using (true);
grant select on reference.permissions to :DATABASE_VISITOR;
comment on table reference.permissions is 'What a member may be allowed to do beyond reading their organisation''s data.';

create table reference.role_permissions (
  role text not null constraint role_permissions_role_valid check (role in ('owner', 'admin', 'member', 'viewer')),
  permission text not null constraint role_permissions_permission_fk references reference.permissions on delete cascade,
  primary key (role, permission)
);
create index idx_role_permissions_permission on reference.role_permissions (permission);
alter table reference.role_permissions enable row level security;
create policy select_all on reference.role_permissions for select using (true);
grant select on reference.role_permissions to :DATABASE_VISITOR;
comment on constraint role_permissions_permission_fk on reference.role_permissions is
  E'@fieldName permissionDetails\nThe permission''s description.';
comment on table reference.role_permissions is
  'The role matrix: which role holds which permission. Policies and functions consult it through app_hidden.require_permission.';

insert into reference.permissions (name, description) values
  ('data.write', 'Create, change and delete contacts, campaigns, steps, A/B tests, enrolments, messages and prompts; run tasks'),
  ('members.manage', 'Add and invite users, change members'' roles, remove members'),
  ('organisation.update', 'Rename the organisation, change its time zone and country'),
  ('audit.read', 'Read the organisation''s audit log'),
  ('ownership.transfer', 'Hand the owner role to another member'),
  ('organisation.delete', 'Delete the organisation and all its data');
insert into reference.role_permissions (role, permission) values
  ('owner', 'data.write'), ('owner', 'members.manage'), ('owner', 'organisation.update'), ('owner', 'audit.read'),
  ('owner', 'ownership.transfer'), ('owner', 'organisation.delete'),
  ('admin', 'data.write'), ('admin', 'members.manage'), ('admin', 'organisation.update'), ('admin', 'audit.read'),
  ('member', 'data.write');

--------------------------------------------------------------------------------
-- Organisation settings, validated against the reference data.

alter table iam.organisations
  add column timezone text not null default 'UTC'
    constraint organisations_timezone_fk references reference.time_zones (name),
  add column country_code text
    constraint organisations_country_fk references reference.countries (code);
create index idx_organisations_timezone on iam.organisations (timezone);
create index idx_organisations_country on iam.organisations (country_code);
grant update (name, timezone, country_code) on iam.organisations to :DATABASE_VISITOR;
comment on column iam.organisations.timezone is 'IANA time zone used for the organisation''s schedules and reports, e.g. Europe/Paris.';
comment on column iam.organisations.country_code is 'ISO 3166-1 alpha-2 country of the organisation, e.g. FR.';

--------------------------------------------------------------------------------
-- Sessions: every token signed at login carries one; logging out revokes it at once.

create table app_private.sessions (
  id uuid not null default gen_random_uuid() primary key,
  user_id uuid not null constraint sessions_user_fk references iam.users on delete cascade,
  organisation_id uuid not null constraint sessions_organisation_fk references iam.organisations on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz
);
create index idx_sessions_user on app_private.sessions (user_id);
create index idx_sessions_organisation on app_private.sessions (organisation_id);
alter table app_private.sessions enable row level security;
comment on table app_private.sessions is
  'A signed-in user acting in one organisation. Tokens name their session; a revoked or expired session is refused on the next statement.';

--------------------------------------------------------------------------------
-- The tenant context, now also checking the session and the organisation's status, and the
-- permission check every write policy makes.

create or replace function app_hidden.current_member_role() returns text
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.setting_as_uuid('app.organisation_id');
  member uuid := app_hidden.setting_as_uuid('app.user_id');
  member_role text;
  organisation_status text;
begin
  -- Tokens signed at login name a session; it must still be open. (Nested: SQL's AND does not
  -- promise to evaluate its left side first.)
  if nullif(current_setting('app.session_id', true), '') is not null then
    if not exists (
      select 1 from app_private.sessions s
       where s.id = app_hidden.setting_as_uuid('app.session_id') and s.user_id = member
         and s.organisation_id = organisation and s.revoked_at is null and s.expires_at > now()
    ) then
      raise exception 'Session ended: this token''s session was signed out or has expired; sign in again'
        using errcode = 'PT005';
    end if;
  end if;
  select m.role, o.status into member_role, organisation_status
    from iam.organisation_users m
    join iam.organisations o on o.id = m.organisation_id
   where m.organisation_id = organisation and m.user_id = member and m.status = 'active';
  if member_role is null then
    raise exception 'Not a member: this user is not an active member of this organisation'
      using errcode = 'PT003';
  end if;
  if organisation_status <> 'active' then
    raise exception 'Organisation suspended: its members cannot use it until it is reactivated'
      using errcode = 'PT006';
  end if;
  return member_role;
end;
$$;
comment on function app_hidden.current_member_role() is
  'The role of app.user_id in app.organisation_id, failing closed when either is missing, the membership is not '
  'active, the session (app.session_id, when the token has one) was revoked or expired, or the organisation is '
  'suspended. Security definer because it must read memberships and sessions that the caller cannot.';

create or replace function app_hidden.require_permission(permission text) returns boolean
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
as $$
declare
  member_role text := app_hidden.current_member_role();
begin
  if not exists (select 1 from reference.permissions p where p.name = permission) then
    raise exception 'Unknown permission %', permission;
  end if;
  if not exists (
    select 1 from reference.role_permissions rp where rp.role = member_role and rp.permission = require_permission.permission
  ) then
    raise exception 'Forbidden: your role (%) does not have the % permission', member_role, permission
      using errcode = 'PT004';
  end if;
  return true;
end;
$$;
comment on function app_hidden.require_permission(text) is
  'True when the current member''s role holds the permission in reference.role_permissions; otherwise a clear '
  '"forbidden" error instead of silently filtered rows. Policies call it as `(select app_hidden.require_permission(…))`.';
grant execute on function app_hidden.require_permission(text) to :DATABASE_VISITOR;


--------------------------------------------------------------------------------
-- Every write policy now consults the matrix.

alter policy delete_own on crm.companies
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on crm.companies
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on crm.companies
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on crm.people
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on crm.people
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on crm.people
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on crm.positions
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on crm.positions
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on crm.positions
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on iam.organisation_users
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('members.manage')));
alter policy insert_own on iam.organisation_users
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('members.manage')));
alter policy update_own on iam.organisation_users
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('members.manage')));
alter policy delete_own on iam.organisations
  using (id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('organisation.delete')));
alter policy insert_none on iam.organisations
  with check (id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('organisation.delete')));
alter policy update_own on iam.organisations
  using (id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('organisation.update')));
alter policy delete_own on outreach.campaign_enrollments
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on outreach.campaign_enrollments
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on outreach.campaign_enrollments
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on outreach.campaigns
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on outreach.campaigns
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on outreach.campaigns
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on outreach.enrollment_step_variant_assignments
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on outreach.enrollment_step_variant_assignments
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_none on outreach.enrollment_step_variant_assignments
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on outreach.messages
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on outreach.messages
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on outreach.messages
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on outreach.prompts
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on outreach.prompts
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on outreach.prompts
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on outreach.step_experiment_variants
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on outreach.step_experiment_variants
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on outreach.step_experiment_variants
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on outreach.step_experiments
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on outreach.step_experiments
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on outreach.step_experiments
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on outreach.tasks
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on outreach.tasks
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on outreach.tasks
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy delete_own on outreach.workflow_steps
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy insert_own on outreach.workflow_steps
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));
alter policy update_own on outreach.workflow_steps
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('data.write')));

create or replace function outreach.claim_due_tasks(max_tasks integer, worker_id text) returns setof outreach.tasks
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
begin
  perform app_hidden.require_permission('data.write');
  if max_tasks is null or max_tasks not between 1 and 1000 then
    raise exception 'Invalid input: max_tasks must be between 1 and 1000' using errcode = '22023';
  end if;
  if worker_id is null or length(worker_id) not between 1 and 200 then
    raise exception 'Invalid input: worker_id must be 1 to 200 characters' using errcode = '22023';
  end if;
  return query
  with due as (
    select t.organisation_id, t.id
      from outreach.tasks t
      join outreach.campaign_enrollments e on e.organisation_id = t.organisation_id and e.id = t.enrollment_id
      join outreach.campaigns c on c.organisation_id = e.organisation_id and c.id = e.campaign_id
     where t.organisation_id = organisation
       and t.status = 'queued' and t.scheduled_for <= now()
       and e.state = 'active' and c.status = 'active'
     order by t.scheduled_for, t.id
     limit max_tasks
     for update of t skip locked
  )
  update outreach.tasks t
     set status = 'processing', locked_at = now(), locked_by = worker_id, attempts = t.attempts + 1
    from due
   where t.organisation_id = due.organisation_id and t.id = due.id
  returning t.*;
end;
$$;

create or replace function outreach.complete_task(task_id uuid) returns outreach.tasks
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  done outreach.tasks;
  step_index integer;
begin
  perform app_hidden.require_permission('data.write');
  perform app_hidden.lock_processing_task(organisation, task_id, 'completed');
  update outreach.tasks t
     set status = 'completed', completed_at = now(), locked_at = null, locked_by = null
   where t.organisation_id = organisation and t.id = task_id
  returning t.* into done;
  select s.step_index into step_index
    from outreach.workflow_steps s where s.organisation_id = organisation and s.id = done.workflow_step_id;
  if not app_hidden.schedule_step_after(organisation, done.enrollment_id, step_index, now()) then
    update outreach.campaign_enrollments e set state = 'completed', last_activity_at = now()
     where e.organisation_id = organisation and e.id = done.enrollment_id and e.state = 'active';
  end if;
  return done;
end;
$$;

create or replace function outreach.fail_task(task_id uuid, error_message text) returns outreach.tasks
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  failed outreach.tasks;
begin
  perform app_hidden.require_permission('data.write');
  perform app_hidden.lock_processing_task(organisation, task_id, 'failed');
  update outreach.tasks t
     set status = case when t.attempts >= t.max_attempts then 'failed' else 'queued' end,
         -- Exponential backoff: 2, 4, 8… minutes after each failed attempt, at most a day.
         scheduled_for = case when t.attempts >= t.max_attempts then t.scheduled_for
                              else now() + make_interval(mins => least(power(2, t.attempts)::integer, 1440)) end,
         last_error = left(error_message, 10000), locked_at = null, locked_by = null
   where t.organisation_id = organisation and t.id = task_id
  returning t.* into failed;
  return failed;
end;
$$;

-- One mechanism from now on: the matrix.
drop function if exists app_hidden.require_role(text);

--------------------------------------------------------------------------------
-- Sign-up, login, sessions. The server calls these and signs the token; passwords are hashed
-- with bcrypt (pgcrypto, cost 10) and never leave app_private.

create type app_hidden.session_grant as (
  user_id uuid,
  organisation_id uuid,
  session_id uuid,
  expires_at timestamptz
);
comment on type app_hidden.session_grant is 'What a token is signed from: who, in which organisation, which session, until when.';

create function app_hidden.check_password(password text, email text) returns void
  language plpgsql immutable
  set search_path = pg_catalog, pg_temp
as $$
begin
  if password is null or length(password) < 10 then
    raise exception 'Weak password: use at least 10 characters' using errcode = 'PT020';
  end if;
  if length(password) > 200 then
    raise exception 'Weak password: use at most 200 characters' using errcode = 'PT020';
  end if;
  if password !~ '[A-Za-z]' or password !~ '[^A-Za-z]' then
    raise exception 'Weak password: mix letters with digits or symbols' using errcode = 'PT020';
  end if;
  if position(lower(split_part(email, '@', 1)) in lower(password)) > 0 then
    raise exception 'Weak password: it must not contain your email address' using errcode = 'PT020';
  end if;
end;
$$;
comment on function app_hidden.check_password(text, text) is 'The password rules: 10 to 200 characters, letters and non-letters, not containing the email''s name.';

create function app_hidden.set_password(user_id uuid, password text) returns void
  language sql volatile
  set search_path = pg_catalog, pg_temp
as $$
  insert into app_private.user_secrets (user_id, password_hash)
  values (user_id, public.crypt(password, public.gen_salt('bf', 10)))
  on conflict (user_id) do update set password_hash = excluded.password_hash;
$$;
comment on function app_hidden.set_password(uuid, text) is 'Stores a bcrypt hash of the password (cost 10).';

create function app_hidden.unique_slug(organisation_name text) returns text
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  base text := left(trim(both '-' from regexp_replace(lower(organisation_name), '[^a-z0-9]+', '-', 'g')), 80);
  candidate text;
  suffix integer := 1;
begin
  if base = '' then base := 'organisation'; end if;
  candidate := base;
  while exists (select 1 from iam.organisations o where o.slug = candidate) loop
    suffix := suffix + 1;
    candidate := base || '-' || suffix;
  end loop;
  return candidate;
end;
$$;
comment on function app_hidden.unique_slug(text) is 'A URL-safe slug from an organisation name, numbered (-2, -3…) until unused.';

create function app_hidden.start_session(user_id uuid, organisation_id uuid, lifetime_seconds integer)
  returns app_hidden.session_grant
  language sql volatile
  set search_path = pg_catalog, pg_temp
as $$
  insert into app_private.sessions (user_id, organisation_id, expires_at)
  values (user_id, organisation_id, now() + make_interval(secs => least(greatest(lifetime_seconds, 60), 2592000)))
  returning user_id, organisation_id, id, expires_at;
$$;
comment on function app_hidden.start_session(uuid, uuid, integer) is 'Opens a session for a member, valid for lifetime_seconds (1 minute to 30 days).';

create function app_hidden.register(email text, password text, organisation_name text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  new_user uuid;
  existing_user uuid;
  has_password boolean;
  new_organisation uuid;
begin
  email := trim(email);
  if email is null or email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(email) > 255 then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  if organisation_name is null or length(trim(organisation_name)) not between 1 and 200 then
    raise exception 'Invalid input: the organisation name must be 1 to 200 characters' using errcode = '22023';
  end if;
  perform app_hidden.check_password(password, email);
  -- operator(public.=): citext's case-insensitive equality, not found through the pinned search_path.
  select u.id, s.password_hash is not null into existing_user, has_password
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) register.email::public.citext;
  if has_password then
    raise exception 'Already exists: an account with this email already exists; sign in instead' using errcode = 'PT021';
  end if;
  if existing_user is not null then
    -- Someone invited this email: signing up completes that account and accepts its invitations.
    new_user := existing_user;
    update iam.organisation_users m set status = 'active' where m.user_id = new_user and m.status = 'invited';
  else
    insert into iam.users (email) values (register.email) returning id into new_user;
  end if;
  perform app_hidden.set_password(new_user, password);
  insert into iam.organisations (name, slug) values (trim(organisation_name), app_hidden.unique_slug(organisation_name))
  returning id into new_organisation;
  insert into iam.organisation_users (organisation_id, user_id, role) values (new_organisation, new_user, 'owner');
  return app_hidden.start_session(new_user, new_organisation, lifetime_seconds);
end;
$$;
comment on function app_hidden.register(text, text, text, integer) is
  'Sign-up in one transaction: the user (or an invited user''s account), a new organisation with a unique slug, '
  'the owner membership and a session. Security definer because it runs for anonymous callers.';

create function app_hidden.login(email text, password text, organisation_slug text, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  found_user uuid;
  stored_hash text;
  -- A bcrypt hash of nothing anyone knows: unknown emails are hashed against it, so that a wrong
  -- email and a wrong password take the same path and the same time.
  decoy_hash constant text := '$2a$10$4yKkRrbZHa6kr4uJkWg.UeT4Cc2C1ZKZ1nLHj6mZ9bq9xXyG5sF1m';
  password_matches boolean;
  memberships record;
  chosen uuid;
  chosen_status text;
begin
  select u.id, s.password_hash into found_user, stored_hash
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) trim(coalesce(login.email, ''))::public.citext;
  password_matches := public.crypt(coalesce(password, ''), coalesce(stored_hash, decoy_hash)) = coalesce(stored_hash, decoy_hash)
                      and stored_hash is not null;
  if not password_matches then
    raise exception 'Invalid email or password' using errcode = 'PT030';
  end if;
  if organisation_slug is not null then
    select o.id, o.status into chosen, chosen_status
      from iam.organisation_users m join iam.organisations o on o.id = m.organisation_id
     where m.user_id = found_user and m.status = 'active' and o.slug = organisation_slug;
    if chosen is null then
      raise exception 'Unknown organisation: you are not an active member of an organisation named "%"', organisation_slug
        using errcode = 'PT031';
    end if;
  else
    select count(*) as active, min(o.id::text)::uuid as only_one, min(o.status) as status,
           string_agg(o.slug, ', ' order by o.slug) as slugs
      into memberships
      from iam.organisation_users m join iam.organisations o on o.id = m.organisation_id
     where m.user_id = found_user and m.status = 'active';
    if memberships.active = 0 then
      raise exception 'No organisation: you are not an active member of any organisation' using errcode = 'PT031';
    end if;
    if memberships.active > 1 then
      raise exception 'Choose an organisation: you belong to several (%)', memberships.slugs using errcode = 'PT032';
    end if;
    chosen := memberships.only_one;
    chosen_status := memberships.status;
  end if;
  if chosen_status <> 'active' then
    raise exception 'Organisation suspended: its members cannot use it until it is reactivated' using errcode = 'PT006';
  end if;
  return app_hidden.start_session(found_user, chosen, lifetime_seconds);
end;
$$;
comment on function app_hidden.login(text, text, text, integer) is
  'Checks email and password (the same answer and the same bcrypt work whether the email exists or not) and opens a '
  'session in the named organisation, or the only one. Security definer because it runs for anonymous callers.';

create function app_hidden.switch_organisation(organisation_id uuid, lifetime_seconds integer)
  returns app_hidden.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  member uuid := app_hidden.current_user_id();
  target_status text;
begin
  select o.status into target_status
    from iam.organisation_users m join iam.organisations o on o.id = m.organisation_id
   where m.user_id = member and m.organisation_id = switch_organisation.organisation_id and m.status = 'active';
  if target_status is null then
    raise exception 'Not a member: you are not an active member of that organisation' using errcode = 'PT003';
  end if;
  if target_status <> 'active' then
    raise exception 'Organisation suspended: its members cannot use it until it is reactivated' using errcode = 'PT006';
  end if;
  return app_hidden.start_session(member, switch_organisation.organisation_id, lifetime_seconds);
end;
$$;
comment on function app_hidden.switch_organisation(uuid, integer) is
  'Opens a session in another organisation the signed-in user actively belongs to. Security definer because it '
  'reads memberships of other organisations and writes sessions.';

grant usage on schema app_hidden to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.register(text, text, text, integer), app_hidden.login(text, text, text, integer)
  to :DATABASE_ANONYMOUS, :DATABASE_VISITOR;
grant execute on function app_hidden.switch_organisation(uuid, integer) to :DATABASE_VISITOR;

create function iam.logout() returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  member uuid := app_hidden.current_user_id();
begin
  if nullif(current_setting('app.session_id', true), '') is null then
    return false;
  end if;
  update app_private.sessions s set revoked_at = now()
   where s.id = app_hidden.setting_as_uuid('app.session_id') and s.user_id = member and s.revoked_at is null;
  return found;
end;
$$;
comment on function iam.logout() is
  'Signs out: revokes the session of the token used for this request, which is refused from the next request on.';
grant execute on function iam.logout() to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- Members and ownership. Exactly one owner per organisation (a unique index); the owner cannot
-- be removed or demoted, only replaced by transferring ownership.

create function iam.invite_member(email text, role text) returns iam.organisation_users
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  invited uuid;
  has_password boolean;
  membership iam.organisation_users;
begin
  perform app_hidden.require_permission('members.manage');
  if role is null or role not in ('admin', 'member', 'viewer') then
    raise exception 'Invalid input: role must be admin, member or viewer (use transferOwnership for owner)' using errcode = '22023';
  end if;
  email := trim(email);
  if email is null or email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    raise exception 'Invalid input: a valid email address is required' using errcode = '22023';
  end if;
  select u.id, s.password_hash is not null into invited, has_password
    from iam.users u left join app_private.user_secrets s on s.user_id = u.id
   where u.email operator(public.=) invite_member.email::public.citext;
  if invited is null then
    insert into iam.users (email) values (invite_member.email) returning id into invited;
    has_password := false;
  end if;
  insert into iam.organisation_users (organisation_id, user_id, role, status)
  values (organisation, invited, invite_member.role, case when has_password then 'active' else 'invited' end)
  on conflict (organisation_id, user_id) do nothing
  returning * into membership;
  if membership.user_id is null then
    raise exception 'Already exists: this user is already a member of the organisation' using errcode = 'PT021';
  end if;
  return membership;
end;
$$;
comment on function iam.invite_member(text, text) is
  'Adds a user to your organisation with a role (admin, member or viewer): active at once when the account exists, '
  'invited (active after sign-up) otherwise. Needs the members.manage permission.';

create function iam.change_member_role(user_id uuid, role text) returns iam.organisation_users
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  current_role_of_target text;
  membership iam.organisation_users;
begin
  perform app_hidden.require_permission('members.manage');
  if role is null or role not in ('admin', 'member', 'viewer') then
    raise exception 'Invalid input: role must be admin, member or viewer (use transferOwnership for owner)' using errcode = '22023';
  end if;
  select m.role into current_role_of_target from iam.organisation_users m
   where m.organisation_id = organisation and m.user_id = change_member_role.user_id for update;
  if current_role_of_target is null then
    raise exception 'Not found: this user is not a member of your organisation' using errcode = 'PT011';
  end if;
  if current_role_of_target = 'owner' then
    raise exception 'Owner required: the owner''s role cannot be changed; transfer ownership first' using errcode = 'PT023';
  end if;
  update iam.organisation_users m set role = change_member_role.role
   where m.organisation_id = organisation and m.user_id = change_member_role.user_id
  returning * into membership;
  return membership;
end;
$$;
comment on function iam.change_member_role(uuid, text) is 'Changes a member''s role (not the owner''s). Needs members.manage.';

create function iam.remove_member(user_id uuid) returns iam.organisation_users
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  removed iam.organisation_users;
begin
  perform app_hidden.require_permission('members.manage');
  select * into removed from iam.organisation_users m
   where m.organisation_id = organisation and m.user_id = remove_member.user_id for update;
  if removed.user_id is null then
    raise exception 'Not found: this user is not a member of your organisation' using errcode = 'PT011';
  end if;
  if removed.role = 'owner' then
    raise exception 'Owner required: the owner cannot be removed; transfer ownership first' using errcode = 'PT023';
  end if;
  delete from iam.organisation_users m where m.organisation_id = organisation and m.user_id = remove_member.user_id;
  update app_private.sessions s set revoked_at = now()
   where s.organisation_id = organisation and s.user_id = remove_member.user_id and s.revoked_at is null;
  return removed;
end;
$$;
comment on function iam.remove_member(uuid) is
  'Removes a member (not the owner) and ends their sessions in this organisation. Needs members.manage.';

create function iam.transfer_ownership(user_id uuid) returns iam.organisation_users
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  previous_owner uuid := app_hidden.current_user_id();
  new_owner iam.organisation_users;
begin
  perform app_hidden.require_permission('ownership.transfer');
  if not exists (
    select 1 from iam.organisation_users m
     where m.organisation_id = organisation and m.user_id = transfer_ownership.user_id and m.status = 'active'
       and m.user_id <> previous_owner
  ) then
    raise exception 'Not found: ownership goes to another active member of your organisation' using errcode = 'PT011';
  end if;
  update iam.organisation_users m set role = 'admin' where m.organisation_id = organisation and m.user_id = previous_owner;
  update iam.organisation_users m set role = 'owner'
   where m.organisation_id = organisation and m.user_id = transfer_ownership.user_id
  returning * into new_owner;
  return new_owner;
end;
$$;
comment on function iam.transfer_ownership(uuid) is
  'Makes another active member the owner; the previous owner becomes an admin. Needs ownership.transfer (the owner).';

grant execute on function iam.invite_member(text, text), iam.change_member_role(uuid, text),
  iam.remove_member(uuid), iam.transfer_ownership(uuid) to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- GDPR deletion: one transaction removes every row of the organisation, in every schema, and the
-- users left without an organisation; a record of it stays outside tenant data.

create table app_private.organisation_deletions (
  id uuid not null default gen_random_uuid() primary key,
  organisation_id uuid not null,
  deleted_by_user_id uuid,
  deleted_at timestamptz not null default now(),
  rows_removed jsonb not null
);
alter table app_private.organisation_deletions enable row level security;
comment on table app_private.organisation_deletions is
  'Proof of each organisation deletion: which one, who (null for an operator), when, how many rows per table. No personal data.';

create function app_hidden.delete_organisation_data(organisation uuid, actor uuid) returns jsonb
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
declare
  tenant_table record;
  removed bigint;
  rows_removed jsonb := '{}';
  orphans uuid[];
  deletion app_private.organisation_deletions;
begin
  if not exists (select 1 from iam.organisations o where o.id = organisation) then
    raise exception 'Not found: no organisation with this id' using errcode = 'PT011';
  end if;
  for tenant_table in
    select format('%I.%I', n.nspname, c.relname) as name
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'organisation_id' and not a.attisdropped
     where n.nspname in ('iam', 'crm', 'outreach', 'tracking', 'app_private') and c.relkind in ('r', 'p')
     order by 1
  loop
    execute format('select count(*) from %s where organisation_id = $1', tenant_table.name) into removed using organisation;
    if removed > 0 then rows_removed := rows_removed || jsonb_build_object(tenant_table.name, removed); end if;
  end loop;
  select coalesce(array_agg(m.user_id), '{}') into orphans
    from iam.organisation_users m
   where m.organisation_id = organisation
     and not exists (select 1 from iam.organisation_users other where other.user_id = m.user_id and other.organisation_id <> organisation);
  rows_removed := rows_removed || jsonb_build_object('iam.organisations', 1, 'iam.users', cardinality(orphans));
  delete from iam.organisations o where o.id = organisation;
  delete from iam.users u where u.id = any(orphans);
  insert into app_private.organisation_deletions (organisation_id, deleted_by_user_id, rows_removed)
  values (organisation, actor, rows_removed)
  returning * into deletion;
  return jsonb_build_object('organisationId', organisation, 'deletedAt', deletion.deleted_at, 'rowsRemoved', rows_removed);
end;
$$;
comment on function app_hidden.delete_organisation_data(uuid, uuid) is
  'Deletes an organisation with all its rows (foreign keys cascade from iam.organisations) and its users who belong '
  'nowhere else, and records the deletion. Used by deleteCurrentOrganisation and the operator CLI.';

create function iam.delete_current_organisation(confirmation_slug text) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  organisation uuid := app_hidden.current_organisation_id();
  actor uuid := app_hidden.current_user_id();
  organisation_slug text;
begin
  perform app_hidden.require_permission('organisation.delete');
  select o.slug into organisation_slug from iam.organisations o where o.id = organisation;
  if confirmation_slug is distinct from organisation_slug then
    raise exception 'Confirmation mismatch: type the organisation''s slug to confirm its deletion' using errcode = 'PT022';
  end if;
  return app_hidden.delete_organisation_data(organisation, actor);
end;
$$;
comment on function iam.delete_current_organisation(text) is
  'Deletes your organisation and everything in it, for good (GDPR). Only the owner, with the slug as confirmation. '
  'Returns what was removed, per table.';
grant execute on function iam.delete_current_organisation(text) to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- Audit log: every insert, update and delete on tenant tables, written by a trigger; admins
-- read their organisation's log; nobody changes it.

create table iam.audit_log (
  organisation_id uuid not null
    constraint audit_log_organisation_fk references iam.organisations on delete cascade,
  id uuid not null default gen_random_uuid(),
  occurred_at timestamptz not null default now(),
  user_id uuid,
  table_name text not null,
  row_id text not null,
  action text not null constraint audit_log_action_valid check (action in ('insert', 'update', 'delete')),
  changed_columns text[] not null default '{}',
  primary key (organisation_id, id)
);
create index idx_audit_log_org_time on iam.audit_log (organisation_id, occurred_at);
alter table iam.audit_log enable row level security;
create policy select_own on iam.audit_log for select
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('audit.read')));
create policy insert_none on iam.audit_log for insert
  with check (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('organisation.delete')));
create policy update_none on iam.audit_log for update
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('organisation.delete')));
create policy delete_none on iam.audit_log for delete
  using (organisation_id = (select app_hidden.current_organisation_id()) and (select app_hidden.require_permission('organisation.delete')));
-- Read only: rows come from the trigger below, and the table is append-only for everyone.
grant select on iam.audit_log to :DATABASE_VISITOR;
comment on table iam.audit_log is
  'Who changed what and when: every insert, update and delete on the organisation''s tables. Readable by owners and admins; never changed.';
comment on column iam.audit_log.user_id is 'The signed-in user who made the change; null for operators and maintenance.';
comment on column iam.audit_log.row_id is 'The changed row''s id (its key columns, comma-separated, for tables without one).';
comment on column iam.audit_log.changed_columns is 'Columns set by an insert or changed by an update (updated_at aside).';

create function app_hidden.tg_audit_log__append_only() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
as $$
begin
  -- The only way out: the organisation itself being deleted (its rows go with it).
  if tg_op = 'DELETE' and not exists (select 1 from iam.organisations o where o.id = old.organisation_id) then
    return old;
  end if;
  raise exception 'Forbidden: the audit log cannot be changed' using errcode = 'PT004';
end;
$$;
comment on function app_hidden.tg_audit_log__append_only() is 'Trigger: the audit log is append-only, for every role including the owner.';
create trigger _100_append_only before update or delete on iam.audit_log
  for each row execute function app_hidden.tg_audit_log__append_only();

create function app_hidden.tg__audit() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  old_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  new_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  changed_row jsonb := coalesce(new_row, old_row);
  -- iam.organisations is its own organisation.
  organisation uuid := coalesce(changed_row->>'organisation_id', changed_row->>'id')::uuid;
  changed text[] := '{}';
begin
  -- Rows removed with their organisation are not audited: the log goes with them.
  if tg_op = 'DELETE' and not exists (select 1 from iam.organisations o where o.id = organisation) then
    return null;
  end if;
  if tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}') into changed
      from jsonb_each(new_row) n where n.value is distinct from old_row -> n.key and n.key <> 'updated_at';
    if changed = '{}' then return null; end if;
  elsif tg_op = 'INSERT' then
    select coalesce(array_agg(n.key order by n.key), '{}') into changed
      from jsonb_each(new_row) n where n.value <> 'null'::jsonb;
  end if;
  insert into iam.audit_log (organisation_id, user_id, table_name, row_id, action, changed_columns)
  values (
    organisation,
    nullif(current_setting('app.user_id', true), '')::uuid,
    tg_table_schema || '.' || tg_table_name,
    case when tg_nargs = 0 then changed_row->>'id'
         else array_to_string(array(select changed_row->>key_column from unnest(tg_argv) key_column), ',') end,
    lower(tg_op),
    changed
  );
  return null;
end;
$$;
comment on function app_hidden.tg__audit() is
  'Trigger: records an insert, update or delete in iam.audit_log (trigger arguments name the key columns of tables '
  'without an id). Security definer because nobody may write the audit log directly.';

create trigger _900_audit after insert or update or delete on iam.organisations
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on iam.organisation_users
  for each row execute function app_hidden.tg__audit('user_id');
create trigger _900_audit after insert or update or delete on crm.companies
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on crm.people
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on crm.positions
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on outreach.prompts
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on outreach.campaigns
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on outreach.workflow_steps
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on outreach.step_experiments
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on outreach.step_experiment_variants
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on outreach.campaign_enrollments
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on outreach.enrollment_step_variant_assignments
  for each row execute function app_hidden.tg__audit('enrollment_id', 'workflow_step_id');
create trigger _900_audit after insert or update or delete on outreach.tasks
  for each row execute function app_hidden.tg__audit();
create trigger _900_audit after insert or update or delete on outreach.messages
  for each row execute function app_hidden.tg__audit();

-- Deliberate global lookups (not led by organisation_id), named as such for the catalog checks.
comment on index iam.idx_org_users_user_id is 'Global lookup by design: the organisations a user belongs to (login, switching).';
comment on index tracking.idx_pixels_token is 'Global lookup by design: the public pixel endpoint knows only the token.';
