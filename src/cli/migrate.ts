// `npm run migrate -- <graphile-migrate command>`: graphile-migrate against this project's
// database (the embedded one is started or reused), e.g. `npm run migrate -- commit -m "add tasks"`.
import { loadConfig } from "../config.ts";
import { connectDatabase } from "../db/bootstrap.ts";
import { spawnGraphileMigrate } from "../db/graphile-migrate-cli.ts";
import { prepareRolesAndDatabase } from "../db/prepare-database.ts";
import { createLogger } from "../logger.ts";
import { exitWith } from "./run-cli.ts";

async function main(): Promise<number> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const database = await connectDatabase(config, logger);
  try {
    const { urls } = database;
    if (urls.rootUrl !== undefined) await prepareRolesAndDatabase({ ...urls, rootUrl: urls.rootUrl }, logger);
    const child = spawnGraphileMigrate(process.argv.slice(2), urls);
    return await new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
  } finally {
    await database.stop();
  }
}

exitWith(main);
