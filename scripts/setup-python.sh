#!/usr/bin/env bash
# Creates the Python virtualenv for the legacy (V1) scripts in <repo>/.venv and
# installs legacy/requirements.txt into it. Idempotent: when the venv exists and
# the requirements have not changed since the last install, it does nothing.
# Prints the path of the venv's python on stdout (logs go to stderr).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/legacy/requirements.txt"
stamp="$venv/.legacy-requirements.sha256"
python="$venv/bin/python"

if [[ ! -x "$python" ]]; then
  echo "[setup-python] creating $venv" >&2
  "${PYTHON:-python3}" -m venv "$venv"
  rm -f "$stamp"
fi

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
  echo "[setup-python] installing $requirements" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  echo "$wanted" > "$stamp"
fi

echo "$python"
