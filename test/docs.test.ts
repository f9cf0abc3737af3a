// docs/ERD.md and schema.graphql cannot drift: they must equal what the migrations produce.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { ERD_PATH, generateDocs, SCHEMA_PATH } from "../src/docs/generate-docs.ts";
import { testDatabase } from "./helpers/database.ts";

it("docs/ERD.md and schema.graphql match the migrated database (run `npm run docs` after a schema change)", async () => {
  const generated = await generateDocs(testDatabase().urls);
  expect(generated.erd).toContain("erDiagram");
  expect(generated.schema).toContain("type Query");
  expect(readFileSync(ERD_PATH, "utf8")).toBe(generated.erd);
  expect(readFileSync(SCHEMA_PATH, "utf8")).toBe(generated.schema);
});
