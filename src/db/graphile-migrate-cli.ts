// Runs the graphile-migrate command line with this project's database URLs in its environment,
// so `graphile-migrate watch`, `commit`, `status`… work against the embedded database too.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { projectRoot } from "../config.ts";
import type { DatabaseUrls } from "./connection-urls.ts";

export function spawnGraphileMigrate(args: string[], urls: DatabaseUrls): ChildProcess {
  const cli = path.join(projectRoot, "node_modules", "graphile-migrate", "dist", "cli.js");
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: urls.ownerUrl };
  if (urls.rootUrl !== undefined) env.ROOT_DATABASE_URL = urls.rootUrl;
  if (urls.shadowUrl !== undefined) env.SHADOW_DATABASE_URL = urls.shadowUrl;
  return spawn(process.execPath, [cli, ...args], { cwd: projectRoot, env, stdio: "inherit" });
}
