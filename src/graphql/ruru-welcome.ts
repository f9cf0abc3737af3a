// What GraphiQL (Ruru, development only) opens on: the project's own operations, named, starting
// with `Login`, and a header template ready for the token. The dashboard operations are the ones
// README.md's "Building a dashboard" shows (test/dashboard-readme.test.ts runs both).

/** The header template: paste the token after "Bearer ". */
export const AUTHORIZATION_HEADER_TEMPLATE = JSON.stringify({ Authorization: "Bearer " });

export const WELCOME_DOCUMENT = `# ProspectFlow API. Run Login (the ▶ button lists the operations), then paste its token after
# "Bearer " in the Headers pane below and run the others. Every demo password is prospectflow-demo;
# README.md ("Building a dashboard") explains each operation and lists the other demo logins.

mutation Login {
  login(input: { email: "maya@acme.test", password: "prospectflow-demo" }) { token organisationId expiresAt }
}

query ProspectList($after: Cursor) {
  people(
    search: "lea"
    filter: { status: { in: [new, replied] }, createdAt: { greaterThan: "2020-01-01T00:00:00Z" } }
    orderBy: [LAST_NAME_ASC, FIRST_NAME_ASC]
    first: 50
    after: $after
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id firstName lastName email status createdAt
      positions { nodes { jobTitle email company { name siren } } } }
  }
}

# Best matches first; companies by part of a SIREN; people at companies of a NAF sector.
query Searches {
  bestMatches: people(search: "prospect-1", orderBy: [SEARCH_RANK, LAST_NAME_ASC], first: 5) { nodes { lastName email } }
  bySiren: companies(search: "7919") { nodes { name siren } }
  inSector: people(filter: { positions: { some: { company: { nafSector: { equalTo: "62.01Z" } } } } }, orderBy: CREATED_AT_DESC) {
    totalCount nodes { firstName lastName }
  }
}

query StatusCounts {
  peopleStatusCounts { status count }
  taskStatusCounts { status count }
  messageStatusCounts { status count }
}

query CampaignPage($from: Date! = "2020-01-01", $to: Date! = "2030-12-31") {
  campaigns(filter: { status: { equalTo: active } }, orderBy: CREATED_AT_DESC, first: 1) {
    nodes {
      name
      performance { enrolled sent opened replied openRate replyRate }
      enrollmentStateCounts { state count }
      dailyPerformance(fromDay: $from, toDay: $to) { nodes { day enrolled emailsSent emailsOpened emailsReplied } }
      campaignEnrollments(filter: { state: { equalTo: active } }, orderBy: ENROLLED_AT_DESC, first: 20) {
        totalCount
        nodes { enrolledAt state position { jobTitle person { firstName lastName } company { name } } }
      }
    }
  }
}

query LastWeek($from: Date! = "2026-11-25", $to: Date! = "2026-12-01") {
  dailyTotals(fromDay: $from, toDay: $to) { day enrolled emailsSent emailsOpened emailsReplied }
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
