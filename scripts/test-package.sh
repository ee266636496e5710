#!/usr/bin/env bash
# `npm run test:package`: builds the linux-x64-musl binary when this machine can (Rust's
# x86_64-unknown-linux-musl target and a musl C compiler: Debian's musl-tools; scripts/test.sh
# installs both as root), then runs scripts/test-package.js. Without them the musl package is
# skipped, and says so; in CI (CI set) it is required.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v x86_64-linux-musl-gcc >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  npm run build:musl --silent
  exec node scripts/test-package.js
fi
if [ -n "${CI:-}" ]; then
  echo "test:package: the musl toolchain is missing (rustup target add x86_64-unknown-linux-musl; apt-get install musl-tools)" >&2
  exit 1
fi
echo "== NOTE: no musl toolchain here (rustup target add x86_64-unknown-linux-musl; apt-get install musl-tools):"
echo "   the linux-x64-musl package is SKIPPED"
AUDIENCE_ENGINE_SKIP_MUSL=1 exec node scripts/test-package.js
