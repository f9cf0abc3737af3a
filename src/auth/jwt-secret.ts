// The HS256 secret: JWT_SECRET, or in development one generated once and kept under the data folder.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";

export async function resolveJwtSecret(config: Config, logger: Logger): Promise<string> {
  if (config.jwtSecret !== undefined) return config.jwtSecret;
  // loadConfig already refuses production without a secret; this is the development path.
  const file = path.join(config.dataDir, "jwt-secret");
  if (existsSync(file)) return (await fs.readFile(file, "utf8")).trim();
  await fs.mkdir(config.dataDir, { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  await fs.writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  logger.info({ file }, "generated a development JWT secret");
  return (await fs.readFile(file, "utf8")).trim();
}
