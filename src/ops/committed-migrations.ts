// The committed migrations this build ships (migrations/committed/*.sql), read once at start so
// /readyz can compare them with what the database has applied.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export interface CommittedMigration {
  /** graphile-migrate's name for it in graphile_migrate.migrations, e.g. `000002.sql`. */
  filename: string;
  /** The `--! Hash:` header: identifies the migration's content. */
  hash: string;
}

/** graphile-migrate's own rule for committed file names (`000001-some-message.sql`). */
const MIGRATION_FILE = /^([0-9]{6,})(-[-_a-zA-Z0-9]*)?\.sql$/;

export function readCommittedMigrations(migrationsFolder: string): CommittedMigration[] {
  const folder = path.join(migrationsFolder, "committed");
  return readdirSync(folder)
    .map((name) => ({ name, match: MIGRATION_FILE.exec(name) }))
    .filter((entry) => entry.match !== null)
    .map(({ name, match }) => {
      const contents = readFileSync(path.join(folder, name), "utf8");
      const hash = /^--! Hash: (\S+)$/m.exec(contents)?.[1];
      if (hash === undefined) throw new Error(`Committed migration ${name} has no "--! Hash:" header.`);
      return { filename: `${match![1]}.sql`, hash };
    })
    .sort((a, b) => a.filename.localeCompare(b.filename, "en"));
}
