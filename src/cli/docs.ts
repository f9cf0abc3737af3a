// `npm run docs`: migrates a scratch database from zero (committed migrations + current.sql),
// regenerates docs/ERD.md and schema.graphql from it, then drops it.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { loadConfig } from "../config.ts";
import { connectDatabase } from "../db/bootstrap.ts";
import { databaseNameOf, withDatabase } from "../db/connection-urls.ts";
import { runCommittedMigrations, runCurrentMigrationOnce } from "../db/migrations.ts";
import { prepareRolesAndDatabase } from "../db/prepare-database.ts";
import { ERD_PATH, generateDocs, SCHEMA_PATH } from "../docs/generate-docs.ts";
import { createLogger } from "../logger.ts";
import { exitWith } from "./run-cli.ts";

async function main(): Promise<number> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const database = await connectDatabase(config, logger);
  try {
    const { rootUrl } = database.urls;
    if (rootUrl === undefined) {
      process.stderr.write(
        "npm run docs needs ROOT_DATABASE_URL (or the embedded database) to create a scratch database.\n",
      );
      return 1;
    }
    const scratch = `${databaseNameOf(database.urls.ownerUrl)}_docs`;
    const urls = {
      rootUrl,
      ownerUrl: withDatabase(database.urls.ownerUrl, scratch),
      authenticatorUrl: withDatabase(database.urls.authenticatorUrl, scratch),
      shadowUrl: undefined,
    };
    const dropScratch = async () => {
      const root = new pg.Client({ connectionString: rootUrl });
      await root.connect();
      await root.query(`drop database if exists ${root.escapeIdentifier(scratch)} with (force)`);
      await root.end();
    };
    await dropScratch();
    try {
      await prepareRolesAndDatabase(urls, logger);
      await runCommittedMigrations(urls, logger);
      await runCurrentMigrationOnce(urls, logger);
      const docs = await generateDocs(urls);
      await mkdir(path.dirname(ERD_PATH), { recursive: true });
      await writeFile(ERD_PATH, docs.erd);
      await writeFile(SCHEMA_PATH, docs.schema);
      process.stdout.write(
        `wrote ${path.relative(process.cwd(), ERD_PATH)} and ${path.relative(process.cwd(), SCHEMA_PATH)}\n`,
      );
      return 0;
    } finally {
      await dropScratch();
    }
  } finally {
    await database.stop();
  }
}

exitWith(main);
