"""What both V1 scripts share: their errors and exit codes, the never-clobbering placement of a
run's files, the command line's conventions, the scrubbing of the database password from
messages, and the SIGTERM handling that lets a killed run clean up after itself.

Imported by generate_layer_3_push_csvs.py and generate_new_user_waterfall.py, which run with this
directory on sys.path (python puts a script's own directory first).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from datetime import datetime, timezone


class InputError(Exception):
    """Bad command-line or environment input: exit code 2."""


class RunError(Exception):
    """Runtime failure with a message safe to print: exit code 1."""


def iso_utc(value: datetime) -> str:
    """UTC, milliseconds (truncated), `Z`, like JavaScript's toISOString(): 2024-05-01T12:00:00.000Z."""
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _NameTaken(Exception):
    """A file of the set already exists under the stamp being tried."""


def _place_all(temps: list[str], paths: list[str]) -> None:
    """Places every temp file at its path, or none: on any failure the placed ones are undone,
    and each temp file is back for a retry under another stamp."""
    placed: list[tuple[str, str, bool]] = []  # (temp, path, linked)
    try:
        for temp, path in zip(temps, paths):
            placed.append((temp, path, _place(temp, path)))
    except BaseException:
        for temp, path, linked in placed:
            if linked:
                _unlink_quietly(path)
            else:
                os.rename(path, temp)
        raise


def _place(temp: str, path: str) -> bool:
    """Moves temp to path without ever replacing an existing path; True when it was linked (the
    temp file stays), False when renamed (it is gone)."""
    try:
        os.link(temp, path)  # fails with FileExistsError when path exists
        return True
    except FileExistsError:
        raise _NameTaken(path) from None
    except OSError:
        # Filesystem without hard links: check, then rename (small race window).
        if os.path.lexists(path):
            raise _NameTaken(path) from None
        os.rename(temp, path)
        return False


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line on stderr, exit 2
        raise InputError(message)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _secrets(database_url: str) -> list[str]:
    """The password in the database URL, so it can be scrubbed from messages."""
    secrets = []
    try:
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(database_url).get("password")
        if password:
            secrets.append(str(password))
    except Exception:
        pass
    match = re.match(r"^[a-z][a-z0-9+.-]*://[^:/@]*:([^@/]*)@", database_url, re.IGNORECASE)
    if match and match.group(1):
        secrets.append(match.group(1))
    return secrets


def _scrub(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, "***")
    return " ".join(message.split())  # one line


def _describe(database_url: str) -> str:
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(database_url)
        return f"host={info.get('host', '(default)')} port={info.get('port', '(default)')} dbname={info.get('dbname', '(default)')}"
    except Exception:
        return "(unparsable URL)"


def _exit_on_sigterm(signum, frame):
    # A timeout or a cancel in the Node host sends SIGTERM: raise SystemExit instead of dying at
    # once, so the `finally` and `except BaseException` blocks remove placed and temp files. A
    # second SIGTERM must not interrupt that cleanup.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(128 + signum)
