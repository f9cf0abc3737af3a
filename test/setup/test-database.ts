// The database every test uses: its URLs are created by the global setup and shared with test
// files through vitest's provide/inject.
import type { DatabaseUrls } from "../../src/db/connection-urls.ts";

export interface TestDatabase {
  urls: DatabaseUrls & { rootUrl: string };
  /** Same server, superuser, maintenance database: for creating scratch databases. */
  serverRootUrl: string;
  ownerRole: string;
  authenticatorRole: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    testDatabase: TestDatabase;
  }
}
