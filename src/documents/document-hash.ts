// The identity of a trusted document: the SHA-256, in hex, of its tokens (documentKey in
// operations.ts). Clients send it as `documentId` (or Apollo's `extensions.persistedQuery.sha256Hash`),
// or send the text.
import { createHash } from "node:crypto";

const HASH = /^(?:sha256:)?([0-9a-f]{64})$/;

export function documentHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The hex hash a client's id names (`<hex>` or `sha256:<hex>`), or undefined when it is not one. */
export function parseDocumentId(id: unknown): string | undefined {
  if (typeof id !== "string") return undefined;
  return HASH.exec(id.trim().toLowerCase())?.[1];
}
