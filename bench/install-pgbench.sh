#!/usr/bin/env bash
# Installs pgbench for `npm run bench` (variant d) when it is missing; called by bench/load/pgbench.ts.
# The embedded PostgreSQL packages ship no pgbench. On Debian/Ubuntu, pgbench lives in the server
# package (postgresql-<version>), which would also create and start a system-wide cluster; so this
# installs the client package (libpq, wrapper) and extracts only pgbench from the server package
# into /usr/local/lib/prospectflow-bench/. Any pgbench 15+ drives PostgreSQL 18 with a custom
# script; set PGBENCH=/path/to/pgbench to use another one. Needs root (or sudo) and apt-get.
set -euo pipefail

target_dir=/usr/local/lib/prospectflow-bench
if command -v pgbench >/dev/null 2>&1 && pgbench --version >/dev/null 2>&1; then
  echo "pgbench already installed: $(pgbench --version)"
  exit 0
fi
if [ -x "$target_dir/pgbench" ]; then
  echo "pgbench already installed: $("$target_dir/pgbench" --version)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "pgbench is missing and apt-get is not available: install pgbench (PostgreSQL 15 or newer) and set PGBENCH." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "pgbench is missing; installing it needs root (apt-get)." >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The newest postgresql-client-<n> the distribution offers (15 on Debian 12).
client_package="$(apt-cache search --names-only '^postgresql-client-[0-9]+$' | awk '{print $1}' | sort -t- -k3 -n | tail -n1)"
if [ -z "$client_package" ]; then
  echo "no postgresql-client-<version> package found in the apt sources." >&2
  exit 1
fi
version="${client_package##*-}"
$sudo apt-get install -y -qq --no-install-recommends "$client_package" >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt downloads as the _apt user when it can
(cd "$work" && apt-get download "postgresql-$version" >/dev/null)
dpkg-deb -x "$work"/postgresql-"$version"_*.deb "$work/root"
$sudo mkdir -p "$target_dir"
$sudo install -m 0755 "$work/root/usr/lib/postgresql/$version/bin/pgbench" "$target_dir/pgbench"
echo "installed $("$target_dir/pgbench" --version) into $target_dir"
