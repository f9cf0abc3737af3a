#!/usr/bin/env bash
# Renders PgBouncer's configuration (pgbouncer.ini + userlist.txt) into the folder given as $1,
# from environment variables. The compose `pgbouncer` service and the pooling tests both use it,
# so the tests run exactly the configuration a deployment gets.
#
#   PGBOUNCER_DATABASE            database clients ask for (and PostgreSQL serves)  required
#   PGBOUNCER_AUTH_USER           the role clients log in as (the authenticator)     required
#   PGBOUNCER_AUTH_PASSWORD       its password (also used to log in to PostgreSQL)   required
#   POSTGRES_HOST / POSTGRES_PORT where PostgreSQL listens                            postgres / 5432
#   PGBOUNCER_LISTEN_ADDR / _PORT where PgBouncer listens                             0.0.0.0 / 6432
#   PGBOUNCER_MAX_SERVER_CONNECTIONS  server connections to PostgreSQL, at most       100
#   PGBOUNCER_MAX_CLIENT_CONN     client connections PgBouncer accepts                1000
#   PGBOUNCER_QUERY_WAIT_TIMEOUT  seconds a client may wait for a server connection   10
#   PGBOUNCER_QUERY_TIMEOUT       seconds a query may run before PgBouncer gives up on  30
#                                 it (keep it above DATABASE_STATEMENT_TIMEOUT_MS: it is
#                                 for a server that stopped answering, not a slow query)
#   PGBOUNCER_REPLICA_HOST / _PORT  a read replica: adds the database entry              (none) / 5432
#                                 <PGBOUNCER_DATABASE>_replica, the same database on that
#                                 host, for the API's READ_DATABASE_URL
set -euo pipefail

out="${1:?usage: pgbouncer-config.sh <output folder>}"
: "${PGBOUNCER_DATABASE:?set PGBOUNCER_DATABASE}"
: "${PGBOUNCER_AUTH_USER:?set PGBOUNCER_AUTH_USER}"
: "${PGBOUNCER_AUTH_PASSWORD:?set PGBOUNCER_AUTH_PASSWORD}"
host="${POSTGRES_HOST:-postgres}"
port="${POSTGRES_PORT:-5432}"
listen_addr="${PGBOUNCER_LISTEN_ADDR:-0.0.0.0}"
listen_port="${PGBOUNCER_LISTEN_PORT:-6432}"
max_server="${PGBOUNCER_MAX_SERVER_CONNECTIONS:-100}"
max_client="${PGBOUNCER_MAX_CLIENT_CONN:-1000}"
query_wait="${PGBOUNCER_QUERY_WAIT_TIMEOUT:-10}"
query_timeout="${PGBOUNCER_QUERY_TIMEOUT:-30}"
replica_host="${PGBOUNCER_REPLICA_HOST:-}"
replica_port="${PGBOUNCER_REPLICA_PORT:-5432}"

fail() { echo "pgbouncer-config: $*" >&2; exit 1; }
[[ "$PGBOUNCER_DATABASE" =~ ^[A-Za-z0-9_]+$ ]] || fail "PGBOUNCER_DATABASE must be letters, digits and _"
[[ "$PGBOUNCER_AUTH_USER" =~ ^[A-Za-z0-9_]+$ ]] || fail "PGBOUNCER_AUTH_USER must be letters, digits and _"
[[ "$host" =~ ^[A-Za-z0-9_.:-]+$ ]] || fail "POSTGRES_HOST is not a host name"
[[ -z "$replica_host" || "$replica_host" =~ ^[A-Za-z0-9_.:-]+$ ]] || fail "PGBOUNCER_REPLICA_HOST is not a host name"
for value in "$port" "$replica_port" "$listen_port" "$max_server" "$max_client" "$query_wait" "$query_timeout"; do
  [[ "$value" =~ ^[0-9]+$ ]] || fail "ports, sizes and timeouts must be whole numbers (got '$value')"
done
(( max_server >= 1 && max_server <= 100 )) || fail "PGBOUNCER_MAX_SERVER_CONNECTIONS must be 1 to 100 (got $max_server)"

mkdir -p "$out"
umask 077
cat > "$out/pgbouncer.ini" <<INI
; Rendered by scripts/pgbouncer-config.sh: edit the script or the environment, not this file.
[databases]
$PGBOUNCER_DATABASE = host=$host port=$port dbname=$PGBOUNCER_DATABASE
$(if [[ -n "$replica_host" ]]; then
  echo "; The read replica (READ_DATABASE_URL): the same database on a hot standby."
  echo "${PGBOUNCER_DATABASE}_replica = host=$replica_host port=$replica_port dbname=$PGBOUNCER_DATABASE"
fi)

[pgbouncer]
listen_addr = $listen_addr
listen_port = $listen_port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $out/userlist.txt

; Transaction pooling: a server connection belongs to a client for one transaction only. The API
; sets its tenant with set_config(..., true), which ends with the transaction, so nothing leaks.
pool_mode = transaction
default_pool_size = $max_server
max_db_connections = $max_server
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = $max_client

; Fail fast while PostgreSQL is away, and reconnect soon after it returns.
server_connect_timeout = 5
server_login_retry = 1
query_wait_timeout = $query_wait
query_timeout = $query_timeout
server_check_delay = 10
server_idle_timeout = 60

; The authenticator may read SHOW POOLS / SHOW SERVERS on the "pgbouncer" console (monitoring only).
stats_users = $PGBOUNCER_AUTH_USER

ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
INI

escape() { printf '%s' "$1" | sed 's/"/""/g'; }
printf '"%s" "%s"\n' "$(escape "$PGBOUNCER_AUTH_USER")" "$(escape "$PGBOUNCER_AUTH_PASSWORD")" > "$out/userlist.txt"
echo "pgbouncer-config: wrote $out/pgbouncer.ini (transaction pooling, at most $max_server server connections${replica_host:+; replica database ${PGBOUNCER_DATABASE}_replica on $replica_host})"
