#!/usr/bin/env bash
# Contender 3: V1, the legacy Python script, run as production runs it.
#   bash bench/contenders/v1.sh --database-url URL --as-of ISO --lookback-hours H --cooling-hours C --output-dir DIR
# Uses $V1_PYTHON, else the venv that `bash scripts/setup-python.sh` creates (<repo>/.venv).
# `exec`, so the measured process (/usr/bin/time, VmHWM) is Python itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${V1_PYTHON:-$root/.venv/bin/python}"
if [[ ! -x "$python" ]]; then
  python="$(bash "$root/scripts/setup-python.sh")"
fi
exec "$python" "$root/legacy/generate_layer_3_push_csvs.py" "$@"
