// `npm run documents -- <command>`: registers trusted documents (the operations a production
// server runs) as `<sha256>.graphql` files in folders the server loads at start.
import { readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../config.ts";
import { splitOperations } from "../documents/operations.ts";
import {
  addDocuments,
  APP_DOCUMENTS_DIR,
  BENCH_DOCUMENTS_DIR,
  hashesIn,
  readmeDocuments,
  README_DOCUMENTS_DIR,
  replaceDocuments,
} from "../documents/registry.ts";

const USAGE = `Usage: npm run documents -- <command>

  add <file.graphql>… [--dir <folder>]   register every operation of these files
                                         (default folder: documents/app)
  sync-readme                            regenerate documents/readme from README.md's \`\`\`graphql blocks
  sync-bench                             regenerate bench/documents from bench/scenarios.ts
  list [<folder>]                        print the hashes a folder holds (default: documents/app)

Each operation becomes its own document, stored as documents/<folder>/<sha256>.graphql. A client
sends the exact text or {"documentId": "<sha256>"}. The server loads TRUSTED_DOCUMENTS_DIRS
(default: documents, searched recursively) when it starts: restart it after registering.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case "add": {
      let directory = APP_DOCUMENTS_DIR;
      const files: string[] = [];
      for (let index = 0; index < rest.length; index++) {
        if (rest[index] === "--dir") {
          const value = rest[++index];
          if (value === undefined) return usage("--dir needs a folder");
          directory = path.resolve(projectRoot, value);
        } else files.push(rest[index]!);
      }
      if (files.length === 0) return usage("add needs at least one .graphql file");
      for (const file of files) {
        let operations;
        try {
          operations = splitOperations(readFileSync(file, "utf8"));
        } catch (error) {
          process.stderr.write(`${file}: ${(error as Error).message}\n`);
          return 1;
        }
        if (operations.length === 0) {
          process.stderr.write(`${file}: no operation to register\n`);
          return 1;
        }
        for (const document of addDocuments(directory, operations)) {
          process.stdout.write(`${document.hash}  ${document.name ?? "(anonymous)"}  ${file}\n`);
        }
      }
      return 0;
    }
    case "sync-readme": {
      const documents = replaceDocuments(README_DOCUMENTS_DIR, readmeDocuments());
      process.stdout.write(
        `${documents.length} README operations registered in ${path.relative(projectRoot, README_DOCUMENTS_DIR)}\n`,
      );
      return 0;
    }
    case "sync-bench": {
      // Imported here: the bench's module is not needed by the other commands.
      const { benchOperations } = await import("../../bench/documents.ts");
      const documents = replaceDocuments(BENCH_DOCUMENTS_DIR, benchOperations());
      process.stdout.write(
        `${documents.length} bench operations registered in ${path.relative(projectRoot, BENCH_DOCUMENTS_DIR)}\n`,
      );
      return 0;
    }
    case "list": {
      const directory = rest[0] === undefined ? APP_DOCUMENTS_DIR : path.resolve(projectRoot, rest[0]);
      for (const hash of hashesIn(directory)) process.stdout.write(`${hash}\n`);
      return 0;
    }
    default:
      return usage(`unknown command "${command}"`);
  }
}

function usage(problem: string): number {
  process.stderr.write(`${problem}\n\n${USAGE}\n`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
