// `npm run test:ops` (scripts/test-ops.sh): the whole suite against an external PostgreSQL
// (TEST_ROOT_DATABASE_URL, PostgreSQL 15 on 127.0.0.1:5432 on CI machines), plus the tests that
// need tools matching that server or PgBouncer: *.ops-test.ts. Tests that start their own
// embedded PostgreSQL 18 already ran in `npm test` and are left out here.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export default defineConfig({
  root,
  test: {
    include: ["test/**/*.test.ts", "test/ops/**/*.ops-test.ts"],
    exclude: [
      "**/node_modules/**",
      "test/startup.test.ts",
      "test/ops/faults.test.ts",
      "test/ops/startup-failures.test.ts",
    ],
    globalSetup: [path.join(root, "test/setup/global-setup.ts")],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
