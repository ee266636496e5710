#!/usr/bin/env bash
# What the test suite needs beyond Node, Rust and Python, installed where this machine allows it
# (as root, with apt-get), each only when missing. Elsewhere the suites that need a missing tool
# say plainly that they skip.
# - PgBouncer for the transaction-pooler tests (scripts/pgbouncer.js runs its own instances; the
#   package's own service is stopped and disabled: the tests never use it, nor its port 6432).
# - The linux-x64-musl package (node:20-alpine hosts): Rust's x86_64-unknown-linux-musl target and
#   a musl C compiler, headers and loader (Debian: musl-tools), for `npm run test:package`.
set -euo pipefail

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ] && can_apt; then
  echo "== installing pgbouncer (apt-get)"
  apt_install pgbouncer
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now pgbouncer >/dev/null 2>&1 || true; fi
  if command -v service >/dev/null 2>&1; then service pgbouncer stop >/dev/null 2>&1 || true; fi
  if command -v update-rc.d >/dev/null 2>&1; then update-rc.d pgbouncer disable >/dev/null 2>&1 || true; fi
fi

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
  echo "== adding the Rust target x86_64-unknown-linux-musl"
  rustup target add x86_64-unknown-linux-musl || echo "== NOTE: could not add the musl target; the musl package test will be skipped"
fi
if ! command -v x86_64-linux-musl-gcc >/dev/null 2>&1 && can_apt; then
  echo "== installing musl-tools (apt-get)"
  apt_install musl-tools
fi
