#!/usr/bin/env bash
# Layer 5's V1 contender: legacy/generate_new_user_waterfall.py, run as production runs it (and with
# the flags dist/v1-executor.js's runV1Script gives it: --min-hours, --max-days, --output-dir, --as-of).
#   bash bench/contenders/layer5-v1.sh --database-url URL --as-of ISO --min-hours H --max-days D --output-dir DIR
# Uses $V1_PYTHON, else the venv that `bash scripts/setup-python.sh` creates (<repo>/.venv).
# `exec`, so the measured process (/usr/bin/time, VmHWM) is Python itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${V1_PYTHON:-$root/.venv/bin/python}"
if [[ ! -x "$python" ]]; then
  python="$(bash "$root/scripts/setup-python.sh")"
fi
exec "$python" "$root/legacy/generate_new_user_waterfall.py" "$@"
