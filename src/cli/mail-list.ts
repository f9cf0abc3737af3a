// `npm run mail:list [-- --last 10] [-- --to ada@acme.test]`: the mail the development mailer kept
// instead of sending (no SMTP_URL), newest first, with each message's link and token, so the
// invitation, verification and reset flows work on a machine without a mail server.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.ts";

const USAGE = `Usage: npm run mail:list [-- --last <count>] [-- --to <email>]

Lists the messages kept by the development mailer (no SMTP_URL set), newest first, with their
links. Each link's token goes into the matching mutation: verifyEmail, resetPassword,
register(invitationToken) or acceptInvitation.`;

interface KeptMail {
  keptAt: string;
  to: string;
  kind: string;
  subject: string;
  link: string;
}

function main(): number {
  let values: { last?: string; to?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { last: { type: "string" }, to: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const last = values.last === undefined ? 10 : Number(values.last);
  if (!Number.isInteger(last) || last < 1) {
    process.stderr.write(`--last must be a whole number of at least 1\n\n${USAGE}\n`);
    return 2;
  }
  let directory: string;
  try {
    directory = loadConfig(process.env, "mail").mail.keptDirectory;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  let files: string[] = [];
  try {
    files = readdirSync(directory).filter((name) => name.endsWith(".json"));
  } catch {
    // No folder yet: nothing was kept.
  }
  const messages = files
    .map((name) => JSON.parse(readFileSync(path.join(directory, name), "utf8")) as KeptMail)
    .filter((mail) => values.to === undefined || mail.to.toLowerCase() === values.to.toLowerCase())
    .sort((a, b) => b.keptAt.localeCompare(a.keptAt))
    .slice(0, last);
  if (messages.length === 0) {
    process.stdout.write(`No kept mail${values.to ? ` to ${values.to}` : ""} in ${directory}.\n`);
    return 0;
  }
  for (const mail of messages) {
    const token = new URL(mail.link).searchParams.get("token");
    process.stdout.write(
      `${mail.keptAt}  to ${mail.to}  [${mail.kind}]\n  ${mail.subject}\n  link:  ${mail.link}\n` +
        (token ? `  token: ${token}\n` : "") +
        "\n",
    );
  }
  return 0;
}

process.exitCode = main();
