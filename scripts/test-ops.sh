#!/usr/bin/env bash
# `npm run test:ops`: the suite against an external PostgreSQL whose client tools match it
# (default: PostgreSQL 15 on 127.0.0.1:5432, as CI machines have), with the real PgBouncer:
# migrations, catalog and isolation tests on that version, pooling and faults through PgBouncer
# in transaction mode, the backup/restore round trip, and point-in-time recovery and a streaming
# replica on clusters of Debian's server binaries. Checks its prerequisites first and says
# what is missing. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

url="${TEST_OPS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
missing=()
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  missing+=("pgbouncer is not installed: run scripts/install-pgbouncer.sh (apt-get install pgbouncer)")
fi
for tool in pg_dump pg_restore pg_isready; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool is not installed: install the PostgreSQL client tools of the server's version (e.g. apt-get install postgresql-client-15)")
done
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=("Debian's PostgreSQL server binaries are missing (/usr/lib/postgresql/<version>/bin; apt-get install postgresql-15): the recovery and replica test runs whole clusters")
fi
if [ ${#missing[@]} -eq 0 ] && ! pg_isready -q -d "$url" -t 5; then
  missing+=("no PostgreSQL answers at ${url/:\/\/*@/://***@} (set TEST_OPS_DATABASE_URL to a superuser URL of a PostgreSQL 15-18 whose pg_dump you have)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "npm run test:ops cannot run:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

echo "test:ops against $(psql "$url" -Atc 'select version()' 2>/dev/null || echo "$url") with $(pg_dump --version)"
TEST_ROOT_DATABASE_URL="$url" exec vitest run --config test/ops/vitest.config.ts "$@"
