// The registered documents the server accepts: every `<sha256>.graphql` file under the configured
// folders, read once at start (a registration takes effect at the next start). A file whose name
// is not the hash of its contents (their tokens) is refused at start, so a hand-edited file cannot slip through.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { documentHash } from "./document-hash.ts";
import { documentKey } from "./operations.ts";

export interface DocumentStore {
  /** The document text for a hash, or undefined when it is not registered. */
  get(hash: string): string | undefined;
  readonly size: number;
}

export class DocumentStoreError extends Error {
  override name = "DocumentStoreError";
}

const FILE = /^([0-9a-f]{64})\.graphql$/;

export function loadDocumentStore(directories: readonly string[]): DocumentStore {
  const documents = new Map<string, string>();
  for (const directory of directories) {
    for (const file of graphqlFiles(directory)) {
      const match = FILE.exec(path.basename(file));
      if (!match) continue;
      const text = readFileSync(file, "utf8");
      if (keyHash(text) !== match[1]) {
        throw new DocumentStoreError(
          `${file}: the file name is not the SHA-256 of its contents' tokens; register documents with ` +
            "`npm run documents -- add <file.graphql>` instead of editing these files.",
        );
      }
      documents.set(match[1]!, text);
    }
  }
  return { get: (hash) => documents.get(hash), size: documents.size };
}

function keyHash(text: string): string | undefined {
  try {
    return documentHash(documentKey(text));
  } catch {
    return undefined; // not GraphQL
  }
}

/** Every file under a folder, recursively; a missing folder holds none. */
function graphqlFiles(directory: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return entries.sort().flatMap((entry) => {
    const full = path.join(directory, entry);
    return statSync(full).isDirectory() ? graphqlFiles(full) : [full];
  });
}
