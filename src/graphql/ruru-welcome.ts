// What GraphiQL (Ruru, development only) opens on: the project's own operations, named, starting
// with `Login`, and a header template ready for the token. The dashboard operations are the ones
// README.md's "Building a dashboard" shows (test/dashboard-readme.test.ts runs both).

/** The header template: paste the token after "Bearer ". */
export const AUTHORIZATION_HEADER_TEMPLATE = JSON.stringify({ Authorization: "Bearer " });

export const WELCOME_DOCUMENT = `# ProspectFlow API. Run Login (the ▶ button lists the operations), copy the token into the
# Headers pane below: {"Authorization": "Bearer <token>"}, then run the others.
# Every demo password is prospectflow-demo; see README.md for the other demo logins.

mutation Login {
  login(input: { email: "maya@acme.test", password: "prospectflow-demo" }) {
    token
    organisationId
    expiresAt
  }
}

# The prospect list: search + filters + sort + cursor + total.
query ProspectList($after: Cursor) {
  people(
    search: "lea"
    filter: { status: { in: [new, contacted] }, createdAt: { greaterThan: "2020-01-01T00:00:00Z" } }
    orderBy: [LAST_NAME_ASC, FIRST_NAME_ASC]
    first: 50
    after: $after
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id firstName lastName email status createdAt
      positions { nodes { jobTitle email company { name siren } } }
    }
  }
}

# The status counts of the home screen.
query StatusCounts {
  peopleStatusCounts { status count }
  taskStatusCounts { status count }
  messageStatusCounts { status count }
}

# A campaign page: figures, enrolments by state, the active enrolments by date, totals per day.
query CampaignPage($from: Date! = "2020-01-01", $to: Date! = "2030-12-31") {
  campaigns(filter: { status: { equalTo: active } }, orderBy: CREATED_AT_DESC, first: 1) {
    nodes {
      name
      performance { enrolled sent opened replied openRate replyRate }
      enrollmentStateCounts { state count }
      campaignEnrollments(filter: { state: { equalTo: active } }, orderBy: ENROLLED_AT_DESC, first: 20) {
        totalCount
        nodes { enrolledAt state position { jobTitle person { firstName lastName } company { name } } }
      }
    }
  }
}
`;

export function ruruOptions(): GraphileConfig.Preset["ruru"] {
  return {
    clientConfig: {
      initialQuery: WELCOME_DOCUMENT,
      defaultQuery: WELCOME_DOCUMENT,
      initialHeaders: AUTHORIZATION_HEADER_TEMPLATE,
      defaultHeaders: AUTHORIZATION_HEADER_TEMPLATE,
      // ruru's typings mark every client option required; the others keep Ruru's defaults.
    } as NonNullable<NonNullable<GraphileConfig.Preset["ruru"]>["clientConfig"]>,
  };
}
