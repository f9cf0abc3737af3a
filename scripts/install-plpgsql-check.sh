#!/usr/bin/env bash
# Installs plpgsql_check (Debian's postgresql-<major>-plpgsql-check) for the PostgreSQL that
# `npm run test:ops` uses, when it is missing; used by .ci/run. test/plpgsql-check.test.ts runs it
# on every PL/pgSQL function where the extension is available (and says so where it is not).
# Needs root (or sudo) and apt-get; on other systems install plpgsql_check yourself.
# PLPGSQL_CHECK_PG_MAJOR picks the server's major version (default: every installed server).
set -euo pipefail

majors="${PLPGSQL_CHECK_PG_MAJOR:-$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tr '\n' ' ')}"
if [ -z "${majors// /}" ]; then
  echo "no Debian PostgreSQL server under /usr/lib/postgresql: install plpgsql_check with your server's packages." >&2
  exit 1
fi
wanted=()
for major in $majors; do
  if [ -f "/usr/share/postgresql/$major/extension/plpgsql_check.control" ]; then
    echo "plpgsql_check already installed for PostgreSQL $major"
  else
    wanted+=("postgresql-$major-plpgsql-check")
  fi
done
[ ${#wanted[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "plpgsql_check is missing and apt-get is not available: install ${wanted[*]} with your package manager." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "plpgsql_check is missing; installing it needs root (apt-get install ${wanted[*]})." >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
echo "installed ${wanted[*]}"
