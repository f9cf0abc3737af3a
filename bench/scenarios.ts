// The benchmark scenarios, each written once: the GraphQL operation the API variants (a, b)
// receive, and the hand-written SQL that the express + pg endpoint (c) and pgbench (d) run. The
// SQL returns exactly the JSON of the GraphQL response's `data`, so the run can check that every
// variant answers the same thing before it measures anything.

export type ScenarioId =
  | "dashboard-large"
  | "people-page"
  | "nested-companies"
  | "create-person"
  | "pixel-open"
  | "pixel-flood"
  | "dashboard-small"
  | "prospect-list"
  | "status-counts"
  | "campaign-enrollments";

/** Whose token a scenario uses: a member of a large organisation, or of the small probe one. */
export type MemberKind = "large" | "probe";

export interface Member {
  organisationId: string;
  userId: string;
  sessionId: string;
  /** A bearer token signed for this user, organisation and session. */
  token: string;
}

export interface ScenarioContext {
  members: Record<MemberKind, Member>;
  /** The pixel scenario opens seeded tokens 1..pixelTokens (pixelToken(n)): the emails of the last 7 days. */
  pixelTokens: number;
  /** The dashboard's date range: the last 30 days. */
  fromDay: string;
  toDay: string;
}

export interface SqlStatement {
  /** Parameterised text ($1, $2, …) that returns one row with one column, `result` (json). */
  text: string;
  /** The parameters for one request's variables (variant c). */
  params(variables: Record<string, unknown>): unknown[];
  /**
   * For pgbench (variant d): the expression each parameter becomes (`:name` for a variable
   * defined with -D, or an SQL expression over pgbench's numeric variables), the variables to
   * define, and \set lines evaluated before each transaction.
   */
  pgbench(context: ScenarioContext): { expressions: string[]; defines: Record<string, string>; setup: string[] };
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** Reads are held to the GraphQL-cost and latency targets; the pixel has its own target. */
  kind: "read" | "write" | "pixel";
  member: MemberKind;
  /** Pixel scenarios: a random recent email each time (counted opens), or one token from one client (duplicates). */
  pixel?: "random" | "flood";
  /** GraphQL operation and the variables of request number n (variants a and b). */
  graphql?: { query: string; variables(context: ScenarioContext, n: number): Record<string, unknown> };
  sql?: SqlStatement;
}

export const PIXEL_TOKEN_PREFIX = "bench-px-";

/** The n-th seeded pixel token (bench/seed/seed.sql, pg_temp.bench_pixel_token). */
export function pixelToken(n: number): string {
  return PIXEL_TOKEN_PREFIX + String(n).padStart(23, "0");
}

/** The same token, built in SQL from a pgbench variable. */
export const PIXEL_TOKEN_SQL = (variable: string) => `'${PIXEL_TOKEN_PREFIX}' || lpad(:${variable}::text, 23, '0')`;

// Every nested connection names a page size (bounds above the seeded counts, so the SQL's answer
// is unchanged): unpaged nested connections exceed the cost limit (README "Limits").
const dashboardQuery = /* GraphQL */ `
  query Dashboard($from: Date!, $to: Date!) {
    campaigns(first: 20, condition: { status: active }) {
      nodes {
        id
        name
        performance {
          enrolled
          sent
          opened
          replied
          openRate
          replyRate
        }
        dailyPerformance(fromDay: $from, toDay: $to, first: 31) {
          nodes {
            day
            enrolled
            emailsSent
            emailsOpened
            emailsReplied
          }
        }
        workflowSteps(first: 10, orderBy: STEP_INDEX_ASC) {
          nodes {
            stepIndex
            name
            delayDays
            stepExperiments(first: 5) {
              nodes {
                name
                status
                stepExperimentVariants(first: 5) {
                  nodes {
                    key
                    weight
                    performance {
                      enrolled
                      sent
                      opened
                      replied
                      openRate
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
`;

/** Every active campaign with its totals, its days in the range, its steps and A/B variants' figures. */
const dashboardSql: SqlStatement = {
  text: `
select json_build_object('campaigns', json_build_object('nodes', coalesce(json_agg(json_build_object(
         'id', c.id,
         'name', c.name,
         'performance', (
           select json_build_object('enrolled', p.enrolled, 'sent', p.sent, 'opened', p.opened,
                                    'replied', p.replied, 'openRate', p.open_rate, 'replyRate', p.reply_rate)
             from outreach.campaigns_performance(c) as p),
         'dailyPerformance', json_build_object('nodes', (
           select coalesce(json_agg(json_build_object('day', d.day, 'enrolled', d.enrolled, 'emailsSent', d.emails_sent,
                                                      'emailsOpened', d.emails_opened, 'emailsReplied', d.emails_replied)
                                    order by d.n), '[]')
             from outreach.campaigns_daily_performance(c, $1::date, $2::date) with ordinality as d(day, enrolled, emails_sent, emails_opened, emails_clicked, emails_replied, n))),
         'workflowSteps', json_build_object('nodes', (
           select coalesce(json_agg(json_build_object(
                    'stepIndex', s.step_index, 'name', s.name, 'delayDays', s.delay_days,
                    'stepExperiments', json_build_object('nodes', (
                      select coalesce(json_agg(json_build_object(
                               'name', x.name, 'status', x.status,
                               'stepExperimentVariants', json_build_object('nodes', (
                                 select coalesce(json_agg(json_build_object(
                                          'key', v.key, 'weight', v.weight,
                                          'performance', (
                                            select json_build_object('enrolled', vp.enrolled, 'sent', vp.sent,
                                                                     'opened', vp.opened, 'replied', vp.replied,
                                                                     'openRate', vp.open_rate)
                                              from outreach.step_experiment_variants_performance(v) as vp))
                                        order by v.id), '[]')
                                   from outreach.step_experiment_variants v
                                  where v.organisation_id = x.organisation_id and v.step_experiment_id = x.id)))
                             order by x.id), '[]')
                        from outreach.step_experiments x
                       where x.organisation_id = s.organisation_id and x.workflow_step_id = s.id)))
                  order by s.step_index), '[]')
             from outreach.workflow_steps s
            where s.organisation_id = c.organisation_id and s.campaign_id = c.id)))
       order by c.id), '[]'))) as result
  from outreach.campaigns c
 where c.status = 'active'`,
  params: (variables) => [variables.from, variables.to],
  pgbench: (context) => ({
    expressions: [":from_day", ":to_day"],
    defines: { from_day: context.fromDay, to_day: context.toDay },
    setup: [],
  }),
};

const peopleQuery = /* GraphQL */ `
  query PeoplePage($status: PersonStatus!) {
    people(first: 50, condition: { status: $status }) {
      totalCount
      nodes {
        id
        firstName
        lastName
        email
        status
        positions {
          nodes {
            jobTitle
            email
            company {
              name
              siren
            }
          }
        }
      }
    }
  }
`;

/** The first 50 people with a status (in key order), their positions and companies, and how many there are. */
const peopleSql: SqlStatement = {
  text: `
select json_build_object('people', json_build_object(
         'totalCount', (select count(*) from crm.people where status = $1),
         'nodes', (
           select coalesce(json_agg(json_build_object(
                    'id', p.id, 'firstName', p.first_name, 'lastName', p.last_name, 'email', p.email, 'status', p.status,
                    'positions', json_build_object('nodes', (
                      select coalesce(json_agg(json_build_object(
                               'jobTitle', po.job_title, 'email', po.email,
                               'company', (select json_build_object('name', co.name, 'siren', co.siren)
                                             from crm.companies co
                                            where co.organisation_id = po.organisation_id and co.id = po.company_id))
                             order by po.id), '[]')
                        from crm.positions po
                       where po.organisation_id = p.organisation_id and po.person_id = p.id)))
                  order by p.organisation_id, p.id), '[]')
             from (select * from crm.people where status = $1 order by organisation_id, id limit 50) as p))) as result`,
  params: (variables) => [variables.status],
  pgbench: () => ({ expressions: [":status"], defines: { status: PEOPLE_STATUS }, setup: [] }),
};

/** A status that about a fifth of the people have. */
export const PEOPLE_STATUS = "contacted";

const nestedQuery = /* GraphQL */ `
  query CompanyTree {
    companies(first: 20, orderBy: NAME_ASC) {
      nodes {
        id
        name
        siren
        positions(first: 10) {
          nodes {
            jobTitle
            email
            person {
              firstName
              lastName
              email
              status
            }
          }
        }
      }
    }
  }
`;

/** Three levels: 20 companies by name, 10 positions each, each position's person. */
const nestedSql: SqlStatement = {
  text: `
select json_build_object('companies', json_build_object('nodes', coalesce(json_agg(json_build_object(
         'id', co.id, 'name', co.name, 'siren', co.siren,
         'positions', json_build_object('nodes', (
           select coalesce(json_agg(json_build_object(
                    'jobTitle', po.job_title, 'email', po.email,
                    'person', (select json_build_object('firstName', pe.first_name, 'lastName', pe.last_name,
                                                        'email', pe.email, 'status', pe.status)
                                 from crm.people pe
                                where pe.organisation_id = po.organisation_id and pe.id = po.person_id))
                  order by po.organisation_id, po.id), '[]')
             from (select * from crm.positions po
                    where po.organisation_id = co.organisation_id and po.company_id = co.id
                    order by po.organisation_id, po.id limit 10) as po)))
       order by co.name, co.organisation_id, co.id), '[]'))) as result
  from (select * from crm.companies order by name, organisation_id, id limit 20) as co`,
  params: () => [],
  pgbench: () => ({ expressions: [], defines: {}, setup: [] }),
};

const createPersonQuery = /* GraphQL */ `
  mutation CreatePerson($email: String!) {
    createPerson(input: { person: { firstName: "Bench", lastName: "Load", email: $email, status: new } }) {
      person {
        id
        firstName
        lastName
        email
        status
      }
    }
  }
`;

/** Emails of people created by the benchmark end like this; the run deletes them afterwards. */
export const CREATED_EMAIL_DOMAIN = "created.bench.test";

const createPersonSql: SqlStatement = {
  text: `
insert into crm.people (first_name, last_name, email, status)
values ($1, $2, $3, 'new')
returning json_build_object('createPerson', json_build_object('person', json_build_object(
            'id', id, 'firstName', first_name, 'lastName', last_name, 'email', email, 'status', status))) as result`,
  params: (variables) => ["Bench", "Load", variables.email],
  pgbench: () => ({
    // pgbench variables are numbers: the unique email is built in SQL from a random one.
    expressions: [":first_name", ":last_name", `'pgbench-' || :n || '@${CREATED_EMAIL_DOMAIN}'`],
    defines: { first_name: "Bench", last_name: "Load" },
    setup: ["\\set n random(1, 1000000000000000)"],
  }),
};

// The dashboard screens of issue 12: the prospect list, the status counts, a campaign's enrolments.

/** The prospect list's search, statuses and "created after" (180 days before the range's end). */
export const PROSPECT_SEARCH = "dup";
export const PROSPECT_STATUSES = ["contacted", "replied"];
function prospectVariables(context: ScenarioContext) {
  const since = new Date(Date.parse(`${context.toDay}T00:00:00Z`) - 180 * 86_400_000).toISOString();
  return { search: PROSPECT_SEARCH, statuses: PROSPECT_STATUSES, since };
}

const prospectListQuery = /* GraphQL */ `
  query ProspectList($search: String!, $statuses: [PersonStatus!]!, $since: Datetime!) {
    people(
      search: $search
      filter: { status: { in: $statuses }, createdAt: { greaterThan: $since } }
      orderBy: LAST_NAME_ASC
      first: 50
    ) {
      totalCount
      nodes {
        id
        firstName
        lastName
        email
        status
        positions {
          nodes {
            jobTitle
            email
            company {
              name
              siren
            }
          }
        }
      }
    }
  }
`;

/** The same search (the same trigram-index function, rows read by address), statuses and date; last name, first name, key order. */
const prospectListSql: SqlStatement = {
  text: `
with matching as (
  select * from crm.people p
   where p.ctid = any((select app_hidden.people_matching_ctids($1))::tid[])
     and p.status = any($2::text[]) and p.created_at > $3::timestamptz
)
select json_build_object('people', json_build_object(
         'totalCount', (select count(*) from matching),
         'nodes', (
           select coalesce(json_agg(json_build_object(
                    'id', p.id, 'firstName', p.first_name, 'lastName', p.last_name, 'email', p.email, 'status', p.status,
                    'positions', json_build_object('nodes', (
                      select coalesce(json_agg(json_build_object(
                               'jobTitle', po.job_title, 'email', po.email,
                               'company', (select json_build_object('name', co.name, 'siren', co.siren)
                                             from crm.companies co
                                            where co.organisation_id = po.organisation_id and co.id = po.company_id))
                             order by po.id), '[]')
                        from crm.positions po
                       where po.organisation_id = p.organisation_id and po.person_id = p.id)))
                  order by p.n), '[]')
             from (select m.*, row_number() over () as n
                     from (select * from matching
                            order by coalesce(last_name, ''), coalesce(first_name, ''), organisation_id, id
                            limit 50) as m) as p))) as result`,
  params: (variables) => [variables.search, variables.statuses, variables.since],
  pgbench: (context) => {
    const variables = prospectVariables(context);
    return {
      expressions: [":search", ":statuses", ":since"],
      defines: { search: variables.search, statuses: `{${variables.statuses.join(",")}}`, since: variables.since },
      setup: [],
    };
  },
};

const statusCountsQuery = /* GraphQL */ `
  query StatusCounts {
    peopleStatusCounts {
      status
      count
    }
    taskStatusCounts {
      status
      count
    }
    messageStatusCounts {
      status
      count
    }
  }
`;

/** Every value of each enumeration in its order, with the organisation's count (0 when none). */
const statusCountsSql: SqlStatement = {
  text: `
select json_build_object(
         'peopleStatusCounts', (select json_agg(json_build_object('status', s.value, 'count',
                                  (select count(*)::int from crm.people t where t.status = s.value)) order by s.sort_order)
                                  from reference.person_statuses s),
         'taskStatusCounts', (select json_agg(json_build_object('status', s.value, 'count',
                                (select count(*)::int from outreach.tasks t where t.status = s.value)) order by s.sort_order)
                                from reference.task_statuses s),
         'messageStatusCounts', (select json_agg(json_build_object('status', s.value, 'count',
                                   (select count(*)::int from outreach.messages t where t.status = s.value)) order by s.sort_order)
                                   from reference.message_statuses s)) as result`,
  params: () => [],
  pgbench: () => ({ expressions: [], defines: {}, setup: [] }),
};

/** The enrolment state a campaign page filters on. */
export const ENROLLMENT_STATE = "active";

const campaignEnrollmentsQuery = /* GraphQL */ `
  query CampaignEnrollments($state: EnrollmentState!) {
    campaigns(filter: { status: { equalTo: active } }, orderBy: CREATED_AT_ASC, first: 1) {
      nodes {
        id
        name
        campaignEnrollments(filter: { state: { equalTo: $state } }, orderBy: ENROLLED_AT_DESC, first: 50) {
          totalCount
          nodes {
            id
            enrolledAt
            state
            position {
              jobTitle
              person {
                firstName
                lastName
              }
            }
          }
        }
      }
    }
  }
`;

/**
 * A timestamptz as PostGraphile's Datetime renders it (to_char with microseconds and offset). The
 * format's colons are chr(58): in a pgbench script `:MI`, `:SS` and `:TZM` would be taken for
 * variables and become parameters ("could not determine data type of parameter $2").
 */
const TIMESTAMP_AS_POSTGRAPHILE_SQL = (column: string) =>
  `to_char(${column}, 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.USTZH' || chr(58) || 'TZM')`;

/** The oldest active campaign, its enrolments in a state: the 50 latest and how many. */
const campaignEnrollmentsSql: SqlStatement = {
  text: `
select json_build_object('campaigns', json_build_object('nodes', coalesce(json_agg(json_build_object(
         'id', c.id, 'name', c.name,
         'campaignEnrollments', json_build_object(
           'totalCount', (select count(*) from outreach.campaign_enrollments e
                           where e.organisation_id = c.organisation_id and e.campaign_id = c.id and e.state = $1),
           'nodes', (
             select coalesce(json_agg(json_build_object(
                      'id', e.id, 'enrolledAt', ${TIMESTAMP_AS_POSTGRAPHILE_SQL("e.enrolled_at")},
                      'state', e.state,
                      'position', (select json_build_object('jobTitle', po.job_title, 'person',
                                            (select json_build_object('firstName', pe.first_name, 'lastName', pe.last_name)
                                               from crm.people pe
                                              where pe.organisation_id = po.organisation_id and pe.id = po.person_id))
                                     from crm.positions po
                                    where po.organisation_id = e.organisation_id and po.id = e.position_id))
                    order by e.enrolled_at desc, e.organisation_id desc, e.id desc), '[]')
               from (select * from outreach.campaign_enrollments e
                      where e.organisation_id = c.organisation_id and e.campaign_id = c.id and e.state = $1
                      order by e.enrolled_at desc, e.organisation_id desc, e.id desc
                      limit 50) as e)))
       order by c.created_at, c.organisation_id, c.id), '[]'))) as result
  from (select * from outreach.campaigns where status = 'active'
         order by created_at, organisation_id, id limit 1) as c`,
  params: (variables) => [variables.state],
  pgbench: () => ({ expressions: [":state"], defines: { state: ENROLLMENT_STATE }, setup: [] }),
};

let createdCounter = 0;
/** A unique email for each created person: process, time and counter. */
function uniqueEmail(n: number): string {
  createdCounter += 1;
  return `load-${process.pid}-${Date.now().toString(36)}-${n}-${createdCounter}@${CREATED_EMAIL_DOMAIN}`;
}

function lastThirtyDays(context: ScenarioContext) {
  return { from: context.fromDay, to: context.toDay };
}

export const SCENARIOS: Scenario[] = [
  {
    id: "dashboard-large",
    title: "Dashboard: active campaigns with figures, large organisation",
    kind: "read",
    member: "large",
    graphql: { query: dashboardQuery, variables: lastThirtyDays },
    sql: dashboardSql,
  },
  {
    id: "people-page",
    title: `People page: 50 people (status ${PEOPLE_STATUS}) with positions and companies, large organisation`,
    kind: "read",
    member: "large",
    graphql: { query: peopleQuery, variables: () => ({ status: PEOPLE_STATUS }) },
    sql: peopleSql,
  },
  {
    id: "nested-companies",
    title: "Nested: 20 companies → 10 positions each → person, large organisation",
    kind: "read",
    member: "large",
    graphql: { query: nestedQuery, variables: () => ({}) },
    sql: nestedSql,
  },
  {
    id: "create-person",
    title: "Create a person, large organisation",
    kind: "write",
    member: "large",
    graphql: { query: createPersonQuery, variables: (_context, n) => ({ email: uniqueEmail(n) }) },
    sql: createPersonSql,
  },
  {
    id: "pixel-open",
    title: "Tracking pixel hit (GET /t/<token>.gif), a random email of the last 7 days each time",
    kind: "pixel",
    pixel: "random",
    member: "large",
  },
  {
    id: "pixel-flood",
    title: "Pixel flood: one token from one client address (every hit after the first is a duplicate)",
    kind: "pixel",
    pixel: "flood",
    member: "large",
  },
  {
    id: "dashboard-small",
    title: "Dashboard of a small organisation (300 people) among all the others",
    kind: "read",
    member: "probe",
    graphql: { query: dashboardQuery, variables: lastThirtyDays },
    sql: dashboardSql,
  },
  {
    id: "prospect-list",
    title: `Prospect list: search "${PROSPECT_SEARCH}", 2 statuses, created in the last 180 days, by last name, 50 with positions and companies, total, large organisation`,
    kind: "read",
    member: "large",
    graphql: { query: prospectListQuery, variables: prospectVariables },
    sql: prospectListSql,
  },
  {
    id: "status-counts",
    title: "Status counts: people, tasks and messages by status, large organisation",
    kind: "read",
    member: "large",
    graphql: { query: statusCountsQuery, variables: () => ({}) },
    sql: statusCountsSql,
  },
  {
    id: "campaign-enrollments",
    title: `Campaign page: a campaign's 50 latest enrolments in state ${ENROLLMENT_STATE}, with the total, large organisation`,
    kind: "read",
    member: "large",
    graphql: { query: campaignEnrollmentsQuery, variables: () => ({ state: ENROLLMENT_STATE }) },
    sql: campaignEnrollmentsSql,
  },
];

/** The statement that gives a transaction its tenant, as PostGraphile's pgSettings do. */
export const TENANT_SETTINGS_SQL =
  "select set_config('role', $1, true), set_config('app.organisation_id', $2, true), " +
  "set_config('app.user_id', $3, true), set_config('app.session_id', $4, true), set_config('statement_timeout', $5, true)";

/** The token the flood scenario hits (the random scenario's validation uses token 1). */
export const FLOOD_PIXEL_NUMBER = 2;

/**
 * The pixel endpoint's statement (src/http/tracking-pixel.ts), for pgbench: one round trip. The
 * random scenario opens a random recent email from a random IPv4 address (so that opens count, as
 * distinct recipients' would); the flood one token from one address (duplicates after the first).
 */
export function pixelPgbenchScript(anonymousRole: string, mode: "random" | "flood" = "random"): string {
  const open = (token: string, ip: string) =>
    `BEGIN \\; SET LOCAL ROLE ${anonymousRole} \\; SET LOCAL statement_timeout = 2000 \\; ` +
    `SELECT app_hidden.record_open(${token}, ${ip}, 'pgbench') \\; COMMIT;`;
  if (mode === "flood") return open(`'${pixelToken(FLOOD_PIXEL_NUMBER)}'`, "'198.51.100.7'::inet");
  return [
    `\\set n random(1, :pixel_tokens)`,
    `\\set ip random(16777216, 3758096383)`,
    open(PIXEL_TOKEN_SQL("n"), "'0.0.0.0'::inet + :ip"),
  ].join("\n");
}

/** Replaces $1, $2, … with pgbench expressions. */
export function toPgbenchSql(text: string, expressions: string[]): string {
  return text.replace(/\$(\d+)/g, (_match, index: string) => {
    const expression = expressions[Number(index) - 1];
    if (expression === undefined) throw new Error(`No pgbench expression for $${index}`);
    return `(${expression})`;
  });
}
