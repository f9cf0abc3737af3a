#!/usr/bin/env bash
# Installs PgBouncer (Debian's package) when it is missing; used by .ci/run before `npm run test:ops`.
# Needs root (or sudo) and apt-get; on other systems install pgbouncer yourself.
set -euo pipefail

if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then
  echo "pgbouncer already installed: $( (command -v pgbouncer || echo /usr/sbin/pgbouncer) | head -n1)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "pgbouncer is missing and apt-get is not available: install PgBouncer 1.18+ with your package manager." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "pgbouncer is missing; installing it needs root (apt-get install pgbouncer)." >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null
# The package starts a system-wide pgbouncer on port 6432; the tests run their own, so stop it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pgbouncer 2>/dev/null; then
  $sudo systemctl stop pgbouncer || true
fi
echo "installed $(/usr/sbin/pgbouncer --version | head -n1)"
