// Registration: writes documents as `<sha256>.graphql` into a folder the server loads, and keeps
// generated folders (the README's operations, the bench's) equal to their source.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../config.ts";
import { documentHash } from "./document-hash.ts";
import { documentKey, type OperationDocument } from "./operations.ts";
import { readmeOperations } from "./readme-operations.ts";

/** Where `add` writes by default: documents the dashboard and other first-party clients send. */
export const APP_DOCUMENTS_DIR = path.join(projectRoot, "documents", "app");
/** Generated from README.md by `npm run documents -- sync-readme`; a test checks it is current. */
export const README_DOCUMENTS_DIR = path.join(projectRoot, "documents", "readme");
/** Generated from bench/scenarios.ts; only the bench's server loads it. */
export const BENCH_DOCUMENTS_DIR = path.join(projectRoot, "bench", "documents");

export interface RegisteredDocument extends OperationDocument {
  hash: string;
}

export function registered(operations: OperationDocument[]): RegisteredDocument[] {
  return operations.map((operation) => ({ ...operation, hash: documentHash(documentKey(operation.text)) }));
}

/** Adds documents to a folder (existing ones are kept); returns what was registered. */
export function addDocuments(directory: string, operations: OperationDocument[]): RegisteredDocument[] {
  mkdirSync(directory, { recursive: true });
  const documents = registered(operations);
  for (const document of documents) writeFileSync(path.join(directory, `${document.hash}.graphql`), document.text);
  return documents;
}

/** Makes a generated folder hold exactly these documents. */
export function replaceDocuments(directory: string, operations: OperationDocument[]): RegisteredDocument[] {
  mkdirSync(directory, { recursive: true });
  const documents = registered(operations);
  const wanted = new Set(documents.map((document) => `${document.hash}.graphql`));
  for (const file of readdirSync(directory)) {
    if (file.endsWith(".graphql") && !wanted.has(file)) rmSync(path.join(directory, file));
  }
  for (const document of documents) writeFileSync(path.join(directory, `${document.hash}.graphql`), document.text);
  return documents;
}

/** The hashes a folder holds (file names without `.graphql`). */
export function hashesIn(directory: string): string[] {
  try {
    return readdirSync(directory)
      .filter((file) => file.endsWith(".graphql"))
      .map((file) => file.slice(0, -".graphql".length))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

export function readmeDocuments(readmePath = path.join(projectRoot, "README.md")): RegisteredDocument[] {
  return registered(readmeOperations(readFileSync(readmePath, "utf8")));
}
