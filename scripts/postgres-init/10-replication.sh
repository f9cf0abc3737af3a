#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory (the official
# image's /docker-entrypoint-initdb.d): creates the `replicator` role and lets it stream WAL, for
# the compose `replica` profile. Does nothing when REPLICATION_PASSWORD is empty.
# For an existing database, run the same two steps by hand (docs/OPERATIONS.md).
set -euo pipefail

if [ -z "${REPLICATION_PASSWORD:-}" ]; then
  echo "10-replication.sh: REPLICATION_PASSWORD is empty; no replication role created"
  exit 0
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v password="$REPLICATION_PASSWORD" <<'SQL'
create role replicator with replication login password :'password';
comment on role replicator is 'Streams WAL to read replicas (compose profile replica); nothing else.';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
echo "10-replication.sh: replicator role created; replication allowed with a password"
