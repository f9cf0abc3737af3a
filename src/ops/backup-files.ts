// The backup folder's files: timestamped dump names, the manifest written next to each dump
// (checksum and per-table row counts, to verify a restore), pruning by age, and the checks that
// a file really is an intact custom-format dump.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { OpsError } from "./ops-error.ts";
import { runTool } from "./postgres-tools.ts";

export const BACKUP_MODES = ["full", "schema", "data"] as const;
export type BackupMode = (typeof BACKUP_MODES)[number];
/** What a dump file was made for: one of the modes, or the safety dump a restore or a migrate job takes first. */
export type BackupKind = BackupMode | "pre-restore" | "pre-migrate";

export interface BackupManifest {
  format: "prospectflow-backup/1";
  database: string;
  kind: BackupKind;
  createdAt: string;
  serverVersion: string;
  pgDumpVersion: number;
  sha256: string;
  bytes: number;
  /** Rows per table ("schema.table") in the snapshot the dump was taken from. */
  rowCounts: Record<string, number>;
}

const DUMP_NAME = /^(?<database>.+)-(?<kind>full|schema|data|pre-restore|pre-migrate)-(?<stamp>\d{8}T\d{9}Z)\.dump$/;

/** `<database>-<kind>-<YYYYMMDD>T<HHMMSSmmm>Z.dump`: sorts by time, says what it holds. */
export function dumpFileName(database: string, kind: BackupKind, at: Date): string {
  const iso = at.toISOString(); // 2026-11-22T21:46:01.123Z
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}T${iso.slice(11, 19).replaceAll(":", "")}${iso.slice(20, 23)}Z`;
  return `${database}-${kind}-${stamp}.dump`;
}

export function parseDumpFileName(name: string): { database: string; kind: BackupKind; createdAt: Date } | undefined {
  const groups = DUMP_NAME.exec(name)?.groups;
  if (!groups) return undefined;
  const s = groups.stamp!;
  const createdAt = new Date(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`,
  );
  if (Number.isNaN(createdAt.getTime())) return undefined;
  return { database: groups.database!, kind: groups.kind as BackupKind, createdAt };
}

export const manifestPathFor = (dumpPath: string) => `${dumpPath}.json`;

export async function writeManifest(dumpPath: string, manifest: BackupManifest): Promise<void> {
  await fs.writeFile(manifestPathFor(dumpPath), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
}

/** The manifest next to a dump, or undefined when there is none (a dump made elsewhere). */
export async function readManifest(dumpPath: string): Promise<BackupManifest | undefined> {
  let text: string;
  try {
    text = await fs.readFile(manifestPathFor(dumpPath), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const manifest = JSON.parse(text) as Partial<BackupManifest>;
  if (
    manifest.format !== "prospectflow-backup/1" ||
    typeof manifest.sha256 !== "string" ||
    typeof manifest.rowCounts !== "object"
  ) {
    throw new OpsError(
      "DUMP_DAMAGED",
      `${manifestPathFor(dumpPath)} is not a backup manifest this version understands.`,
    );
  }
  return manifest as BackupManifest;
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Custom-format archives start with these five bytes; plain SQL dumps and other files do not. */
const CUSTOM_FORMAT_MAGIC = "PGDMP";

export interface DumpContents {
  /** Tables whose definition the dump holds ("schema.table"). */
  tables: string[];
  /** Tables whose rows the dump holds. */
  tablesWithData: string[];
}

/**
 * Proves a file is an intact custom-format dump: the header, the table of contents, and every
 * data block read and decompressed by pg_restore (a truncated or corrupted file fails here).
 */
export async function verifyDumpFile(pgRestore: string, file: string): Promise<DumpContents> {
  let header: Buffer;
  try {
    const handle = await fs.open(file, "r");
    try {
      header = Buffer.alloc(5);
      await handle.read(header, 0, 5, 0);
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new OpsError("NOT_A_DUMP", code === "ENOENT" ? `No such file: ${file}` : `Cannot read ${file} (${code}).`);
  }
  if (header.toString("latin1") !== CUSTOM_FORMAT_MAGIC) {
    const plainSql = header.toString("latin1").startsWith("--");
    throw new OpsError(
      "NOT_A_DUMP",
      `${file} is not a PostgreSQL custom-format dump (pg_dump --format=custom, as npm run db:backup writes)` +
        (plainSql ? ": it looks like a plain SQL dump; load those with psql instead." : "."),
    );
  }
  let list: string;
  try {
    list = (await runTool(pgRestore, ["--list", file])).stdout;
    // Reads every data block (decompressing it) without a database: damage anywhere fails.
    await runTool(pgRestore, ["--file=/dev/null", file]);
  } catch (error) {
    if (error instanceof OpsError) throw error;
    throw new OpsError("DUMP_DAMAGED", `${file} is damaged or unreadable: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseTableOfContents(list);
}

/** Table entries of `pg_restore --list`: "1234; 1259 16390 TABLE crm people owner". */
export function parseTableOfContents(list: string): DumpContents {
  const tables: string[] = [];
  const tablesWithData: string[] = [];
  for (const line of list.split("\n")) {
    if (line.startsWith(";") || line.trim() === "") continue;
    const match = /^\d+; \d+ \d+ (TABLE DATA|TABLE) (\S+) (\S+) /.exec(line);
    if (!match) continue;
    const name = `${match[2]}.${match[3]}`;
    (match[1] === "TABLE" ? tables : tablesWithData).push(name);
  }
  return { tables, tablesWithData };
}

export interface PruneResult {
  removed: string[];
}

/**
 * Deletes this database's dumps (and their manifests) older than the retention. Only files
 * whose names this tool writes are considered; `keep` is never deleted.
 */
export async function pruneBackups(options: {
  directory: string;
  database: string;
  retentionDays: number;
  now: Date;
  keep: string;
}): Promise<PruneResult> {
  const cutoff = options.now.getTime() - options.retentionDays * 24 * 60 * 60 * 1000;
  const removed: string[] = [];
  for (const name of await fs.readdir(options.directory)) {
    const parsed = parseDumpFileName(name);
    if (!parsed || parsed.database !== options.database) continue;
    const file = path.join(options.directory, name);
    if (file === options.keep || parsed.createdAt.getTime() >= cutoff) continue;
    await fs.rm(file, { force: true });
    await fs.rm(manifestPathFor(file), { force: true });
    removed.push(file);
  }
  return { removed };
}
