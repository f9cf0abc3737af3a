// The database roles whose names the project fixes (the owner and authenticator
// names come from DATABASE_URL and AUTH_DATABASE_URL). Kept equal to .gmrc's placeholders by a test.

/** Authenticated requests switch to this role: RLS applies, no BYPASSRLS, owns nothing. */
export const VISITOR_ROLE = "prospectflow_visitor";

/** Requests without a token switch to this role: it can read no tenant data. */
export const ANONYMOUS_ROLE = "prospectflow_anonymous";
