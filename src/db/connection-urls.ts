// Small helpers to read and derive PostgreSQL connection URLs.

export interface DatabaseUrls {
  /** Superuser; only for creating roles, databases and extensions. */
  rootUrl: string | undefined;
  /** Database owner; runs migrations and privileged maintenance. */
  ownerUrl: string;
  /** The server's pool logs in as this role and switches to visitor/anonymous per request. */
  authenticatorUrl: string;
  /** Scratch database used by `graphile-migrate commit`. */
  shadowUrl: string | undefined;
}

export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

export function userNameOf(url: string): string {
  return decodeURIComponent(new URL(url).username);
}

export function passwordOf(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, databaseName: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(databaseName)}`;
  return parsed.toString();
}

export function buildUrl(parts: {
  user: string;
  password: string;
  host: string;
  port: number;
  database: string;
}): string {
  const user = encodeURIComponent(parts.user);
  const password = encodeURIComponent(parts.password);
  return `postgres://${user}:${password}@${parts.host}:${parts.port}/${encodeURIComponent(parts.database)}`;
}

/** A URL safe to print: the password replaced. */
export function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
