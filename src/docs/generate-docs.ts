// Produces the documentation that cannot drift: docs/ERD.md and schema.graphql, from a database.
import path from "node:path";
import pg from "pg";
import { postgraphile } from "postgraphile";
import { lexicographicSortSchema, printSchema } from "postgraphile/graphql";
import { projectRoot } from "../config.ts";
import type { DatabaseUrls } from "../db/connection-urls.ts";
import { createPreset } from "../graphql/preset.ts";
import { generateErd } from "./erd.ts";

export const ERD_PATH = path.join(projectRoot, "docs", "ERD.md");
export const SCHEMA_PATH = path.join(projectRoot, "schema.graphql");

export interface GeneratedDocs {
  erd: string;
  schema: string;
}

export async function generateDocs(urls: Pick<DatabaseUrls, "ownerUrl" | "authenticatorUrl">): Promise<GeneratedDocs> {
  const owner = new pg.Pool({ connectionString: urls.ownerUrl, max: 1 });
  const authenticator = new pg.Pool({ connectionString: urls.authenticatorUrl, max: 2 });
  const pgl = postgraphile(
    createPreset({
      authenticatorPool: authenticator,
      watch: undefined,
      graphiql: false,
      statementTimeoutMs: 60_000,
      // Only the schema is printed: no token is ever signed with this.
      tokens: { jwtSecret: "schema-printing-only-no-tokens-are-signed", lifetimeSeconds: 60 },
    }),
  );
  try {
    const erd = await generateErd(owner);
    const schema = `${printSchema(lexicographicSortSchema(await pgl.getSchema()))}\n`;
    return { erd, schema };
  } finally {
    await pgl.release();
    await authenticator.end();
    await owner.end();
  }
}
