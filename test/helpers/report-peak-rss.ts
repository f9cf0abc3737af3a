// Preloaded with `node --import` into a command under measurement: prints the process's peak
// resident set size (getrusage's maxrss, in KiB) to stderr as it exits.
import { writeSync } from "node:fs";

process.on("exit", () => {
  writeSync(2, `\npeak-rss-kib=${process.resourceUsage().maxRSS}\n`);
});
