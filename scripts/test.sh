#!/usr/bin/env bash
# The whole test suite: what `npm test` and CI run. Needs only Node, Rust and Python 3;
# it builds the addon, prepares the Python venv for the V1 script, and the jest global
# set-up starts a throwaway PostgreSQL (or uses TEST_DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test tools (pgbouncer, the musl toolchain) where this machine can install them"
bash scripts/install-test-tools.sh
echo "== build (release addon + TypeScript)"
npm run build --silent
echo "== python venv for the V1 script"
bash scripts/setup-python.sh >/dev/null
echo "== cargo fmt --check and cargo clippy -D warnings"
if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets --locked -- -D warnings
else
  echo "== NOTE: rustfmt or clippy is not installed (rustup component add rustfmt clippy): format and lint checks SKIPPED"
fi
echo "== cargo test (pure Rust, no database)"
cargo test --workspace --locked
echo "== python unit tests (V1 script helpers)"
.venv/bin/python -m unittest discover -s legacy -p 'test_*.py'
echo "== jest (against real PostgreSQL servers: plain, TLS-only, and PgBouncer in transaction mode)"
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "== NOTE: pgbouncer is not installed, so the transaction-pooler tests (__test__/pooler.test.ts) are SKIPPED;"
  echo "   install it (Debian: apt-get install pgbouncer; .ci/run does) to run them"
fi
npx jest --runInBand
echo "== package (pack, install offline without cargo, strict TypeScript consumer, run)" && npm run test:package --silent
echo "== rollout rehearsal (docs/rollout.md, step by step, against a throwaway PostgreSQL)" && npm run rehearse --silent
