#!/usr/bin/env python3
"""Layer 3 (behavior response) push audiences, V1 ("legacy") implementation.

Builds three audiences from the marketplace database -- recent offer creators,
recent closet adders and recent wishlist adders -- and writes each one as a
production CSV plus a one-row TEST CSV. The rules are docs/layer3-contract.md,
followed row for row; the Rust engine (layer3-behavior, V2) follows the same
document and must produce byte-identical production CSVs.

Usage:
    python legacy/generate_layer_3_push_csvs.py [--lookback-hours 48] [--cooling-hours 12]
        [--output-dir .script-outputs] [--as-of ISO8601] [--min-inventory-count 3]
        [--min-wishlist-count 2] [--automation-id ID] [--database-url URL]

Defaults also come from the environment: DATABASE_URL, LOOKBACK_HOURS, COOLING_HOURS,
OUTPUT_DIR, AS_OF, AUTOMATION_ID (flags win). Progress logs go to stderr; on success
the last line on stdout is one JSON object describing the files written.

Exit codes: 0 success, 1 runtime failure, 2 bad input.

Requires Python 3.11 and psycopg 3 (legacy/requirements.txt).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import signal
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

SCRIPT = "generate_layer_3_push_csvs"

MAX_LOOKBACK_HOURS = 87600  # ten years
MICROS_PER_HOUR = 3_600_000_000

OFFER_CREATED = "offer_created"
CLOSET_ADD = "closet_add"
WISHLIST_ADD = "wishlist_add"
# Rule 3: the highest-priority action type wins.
PRIORITY = {OFFER_CREATED: 0, CLOSET_ADD: 1, WISHLIST_ADD: 2}

OPEN_FOR_TRADE = "OPEN_FOR_TRADE"
MENS_SIZE = "mens_size"

# One entry per audience: (action type, audienceType in the JSON, file name stem, count column).
AUDIENCES = [
    (OFFER_CREATED, "offer_creators", "recent-offer-creators", "inventory_count"),
    (CLOSET_ADD, "closet_adders", "recent-closet-adders", "wishlist_count"),
    (WISHLIST_ADD, "wishlist_adders", "recent-wishlist-adders", "inventory_count"),
]
BASE_COLUMNS = [
    "user_id",
    "username",
    "firstName",
    "usersize",
    "relevant_variant_size",
    "product_name",
    "variantID",
    "lastActive",
]

# Contract section 7: the test recipient.
TEST_USER = {
    "user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059",
    "username": "beems",
    "firstName": "Mbiyimoh",
    "usersize": "13",
}
TEST_FALLBACK = {"relevant_variant_size": "13", "product_name": "Test Product", "variantID": "test-variant-id"}


def log(message: str) -> None:
    print(f"[{SCRIPT}] {message}", file=sys.stderr, flush=True)


class InputError(Exception):
    """Bad command-line or environment input: exit code 2."""


class RunError(Exception):
    """Runtime failure with a message safe to print: exit code 1."""


# --------------------------------------------------------------------------------------------
# Input parsing and validation (pure)
# --------------------------------------------------------------------------------------------

# re.ASCII: `\d` is 0-9 only (otherwise any Unicode digit, such as Arabic-Indic, would pass).
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INTEGER_RE = re.compile(r"\d+", re.ASCII)
_AS_OF_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<off_hour>\d{2}):(?P<off_minute>\d{2}))",
    re.ASCII,
)


def parse_hours(option: str, text: str) -> float:
    """A finite decimal number (no inf/nan, no hex, no underscores)."""
    if not _NUMBER_RE.fullmatch(text):
        raise InputError(f"{option} must be a finite number, got {text!r}")
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{option} must be a finite number, got {text!r}")
    return value


def parse_count(option: str, text: str) -> int:
    if not _INTEGER_RE.fullmatch(text):
        raise InputError(f"{option} must be an integer >= 0, got {text!r}")
    return int(text)


def hours_to_micros(hours: float) -> int:
    """Hours to whole microseconds: the double product, rounded half away from zero."""
    product = hours * MICROS_PER_HOUR
    whole = int(product)  # truncates toward zero
    rest = product - whole
    if rest >= 0.5:
        whole += 1
    elif rest <= -0.5:
        whole -= 1
    return whole


def validate_hours(lookback: float, cooling: float, lookback_text: str, cooling_text: str) -> None:
    if cooling < 0:
        raise InputError(f"--cooling-hours must be >= 0, got {cooling_text!r}")
    if lookback > MAX_LOOKBACK_HOURS:
        raise InputError(f"--lookback-hours must be <= {MAX_LOOKBACK_HOURS}, got {lookback_text!r}")
    if not cooling < lookback:
        raise InputError(
            f"--cooling-hours must be < --lookback-hours, got --cooling-hours {cooling_text!r} "
            f"and --lookback-hours {lookback_text!r}"
        )


def parse_as_of(text: str) -> datetime:
    """An RFC 3339 date-time with `Z` or an offset, returned in UTC; its UTC year must be 1900-9999.

    Fractions beyond the microsecond are truncated (PostgreSQL keeps microseconds).
    """
    match = _AS_OF_RE.fullmatch(text.strip())
    if not match:
        raise InputError(
            f"--as-of must be an ISO-8601 date-time with Z or an offset (e.g. 2024-05-01T12:00:00Z), got {text!r}"
        )
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    if match["utc"]:
        tz = timezone.utc
    else:
        off_hour, off_minute = int(match["off_hour"]), int(match["off_minute"])
        if off_hour > 23 or off_minute > 59:
            raise InputError(f"--as-of has an invalid UTC offset, got {text!r}")
        offset = timedelta(hours=off_hour, minutes=off_minute)
        tz = timezone(-offset if match["sign"] == "-" else offset)
    try:
        local = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction),
            tzinfo=tz,
        )
        utc = local.astimezone(timezone.utc)
    except ValueError:
        raise InputError(f"--as-of is not a valid date-time, got {text!r}") from None
    except OverflowError:  # past 9999-12-31 in UTC
        utc = None
    if utc is None or not 1900 <= utc.year <= 9999:
        raise InputError(f"--as-of must be between the years 1900 and 9999 (in UTC), got {text!r}")
    return utc


def compute_window(as_of_utc: datetime, lookback_hours: float, cooling_hours: float) -> tuple[datetime, datetime]:
    """Contract section 1: [asOf - (lookback - cooling) h, asOf - cooling h), aware UTC datetimes.

    Like the contract's formula, the difference of the hours is taken first, then rounded.
    """
    start = as_of_utc - timedelta(microseconds=hours_to_micros(lookback_hours - cooling_hours))
    end = as_of_utc - timedelta(microseconds=hours_to_micros(cooling_hours))
    return start, end


def iso_utc(value: datetime) -> str:
    """UTC, milliseconds (truncated), `Z`, like JavaScript's toISOString(): 2024-05-01T12:00:00.000Z."""
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# Audience rules (pure)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    kind: str  # OFFER_CREATED, CLOSET_ADD or WISHLIST_ADD
    user_id: uuid.UUID
    product_variant_id: uuid.UUID
    created_at: datetime  # aware
    record_id: uuid.UUID  # inventory item, wishlist item or offer id


def pick_actions(actions: list[Action]) -> dict[uuid.UUID, tuple[Action, datetime]]:
    """Contract section 3: per user, the winning action and the user's most recent action time.

    The winner is the highest-priority type; among that type the most recent created_at;
    exact ties go to the smallest record id (uuid.UUID compares as PostgreSQL uuid order).
    The most recent action time is over all of the user's actions, any type.
    """
    picked: dict[uuid.UUID, tuple[Action, datetime]] = {}
    for action in actions:
        current = picked.get(action.user_id)
        if current is None:
            picked[action.user_id] = (action, action.created_at)
            continue
        best, latest = current
        if action.created_at > latest:
            latest = action.created_at
        if _beats(action, best):
            best = action
        picked[action.user_id] = (best, latest)
    return picked


def _beats(candidate: Action, best: Action) -> bool:
    if PRIORITY[candidate.kind] != PRIORITY[best.kind]:
        return PRIORITY[candidate.kind] < PRIORITY[best.kind]
    if candidate.created_at != best.created_at:
        return candidate.created_at > best.created_at
    return candidate.record_id < best.record_id


def sort_key(user_id: uuid.UUID, latest: datetime) -> tuple:
    """Newest most recent action first, then user_id ascending (uuid order)."""
    return (-_epoch_micros(latest), user_id)


def _epoch_micros(value: datetime) -> int:
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def test_row(first_row: dict[str, str] | None, count_column: str, last_active: str) -> dict[str, str]:
    """Contract section 7: the single row of a TEST file."""
    row = dict(TEST_USER)
    if first_row is None:
        row.update(TEST_FALLBACK)
        row[count_column] = ""
    else:
        for column in ("relevant_variant_size", "product_name", "variantID", count_column):
            row[column] = first_row[column]
    row["lastActive"] = last_active
    return row


# --------------------------------------------------------------------------------------------
# CSV (pure)
# --------------------------------------------------------------------------------------------


def csv_text(columns: list[str], rows: list[dict[str, str]]) -> str:
    """Contract section 8: RFC 4180, `\\n` line ends, quote only fields with `,` `"` `\\r` `\\n`.

    Python's csv.writer with QUOTE_MINIMAL quotes a field when it contains the delimiter,
    the quote character or any character of the line terminator. With lineterminator='\\n'
    it would leave a lone `\\r` unquoted, so each record is written with '\\r\\n' (which
    makes both `\\r` and `\\n` trigger quoting) and its final '\\r\\n' is then replaced by '\\n'.
    It never quotes for leading/trailing spaces or other characters, as the contract wants.
    """
    out = io.StringIO()
    record = io.StringIO()
    writer = csv.writer(record, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n", doublequote=True)
    for values in [columns] + [[row[column] for column in columns] for row in rows]:
        record.seek(0)
        record.truncate()
        writer.writerow(values)
        line = record.getvalue()
        assert line.endswith("\r\n")
        out.write(line[:-2])
        out.write("\n")
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------

ACTIVITY_SQL = """
SELECT 'closet_add' AS kind,
       ii.user_id,
       ii.product_variant_id,
       ii.created_at::timestamptz AS created_at,
       ii.id AS record_id
  FROM inventory_items ii
  JOIN users u ON u.id = ii.user_id
 WHERE u.deleted_at = 0
   AND ii.status::text = %(open_for_trade)s
   AND ii.created_at >= %(start)s::timestamp
   AND ii.created_at < %(end)s::timestamp
UNION ALL
SELECT 'wishlist_add' AS kind,
       wi.user_id,
       wi.product_variant_id,
       wi.created_at::timestamptz AS created_at,
       wi.id AS record_id
  FROM wishlist_items wi
  JOIN users u ON u.id = wi.user_id
 WHERE u.deleted_at = 0
   AND wi.deleted_at = 0
   AND wi.created_at >= %(start)s::timestamp
   AND wi.created_at < %(end)s::timestamp
UNION ALL
SELECT 'offer_created' AS kind,
       o.creator_user_id AS user_id,
       first_item.product_variant_id,
       o.created_at::timestamptz AS created_at,
       o.id AS record_id
  FROM offers o
  JOIN users u ON u.id = o.creator_user_id
  JOIN (
        SELECT oi.offer_id,
               oi.product_variant_id,
               ROW_NUMBER() OVER (PARTITION BY oi.offer_id ORDER BY oi.id) AS item_rank
          FROM offer_items oi
          JOIN offers wo ON wo.id = oi.offer_id
         WHERE wo.created_at >= %(start)s::timestamp
           AND wo.created_at < %(end)s::timestamp
       ) first_item ON first_item.offer_id = o.id AND first_item.item_rank = 1
 WHERE u.deleted_at = 0
   AND o.created_at >= %(start)s::timestamp
   AND o.created_at < %(end)s::timestamp
"""

USERS_SQL = """
SELECT u.id, u.username::text, u.first_name::text
  FROM users u
 WHERE u.id = ANY(%(user_ids)s)
"""

USER_SIZES_SQL = """
SELECT up.user_id, min(av.value::text COLLATE "C") AS usersize
  FROM user_preferences up
  JOIN attribute_preferences ap ON ap.user_preference_id = up.id AND ap.preferred = true
  JOIN attribute_values av ON av.id = ap.attribute_value_id
  JOIN attributes a ON a.id = av.attribute_id
 WHERE up.user_id = ANY(%(user_ids)s)
   AND a.name::text = %(attribute_name)s
 GROUP BY up.user_id
"""

LAST_ACTIVE_SQL = """
SELECT ua.user_id, max(ua.last_active)::text AS last_active
  FROM user_activities ua
 WHERE ua.user_id = ANY(%(user_ids)s)
 GROUP BY ua.user_id
"""

VARIANTS_SQL = """
SELECT pv.id, pv.index_cache::jsonb ->> %(size_key)s::text AS variant_size, p.name::text AS product_name
  FROM product_variants pv
  LEFT JOIN products p ON p.id = pv.product_id
 WHERE pv.id = ANY(%(variant_ids)s)
"""

INVENTORY_COUNTS_SQL = """
SELECT ii.product_variant_id, count(*) AS n
  FROM inventory_items ii
  JOIN users u ON u.id = ii.user_id
 WHERE ii.product_variant_id = ANY(%(variant_ids)s)
   AND ii.status::text = %(open_for_trade)s
   AND u.deleted_at = 0
 GROUP BY ii.product_variant_id
"""

WISHLIST_COUNTS_SQL = """
SELECT wi.product_variant_id, count(*) AS n
  FROM wishlist_items wi
  JOIN users u ON u.id = wi.user_id
 WHERE wi.product_variant_id = ANY(%(variant_ids)s)
   AND wi.deleted_at = 0
   AND u.deleted_at = 0
 GROUP BY wi.product_variant_id
"""


def build_audiences(conn, as_of: datetime | None, lookback: float, cooling: float, min_inventory: int, min_wishlist: int):
    """Runs every query in one READ ONLY, REPEATABLE READ transaction.

    Returns (window_start, window_end, audiences) where audiences is None when there is
    no activity, else {kind: [row dict, ...]} in production order.
    """
    import psycopg

    # Best effort, in a transaction of its own: PostgreSQL 14+ then stops a query within a second
    # when its client is gone (the script killed on timeout). Older servers lack the setting and
    # Windows servers refuse any value but 0: either way the run goes on without it.
    try:
        with conn.transaction():
            conn.execute("SET client_connection_check_interval = '1s'")
    except psycopg.Error:
        pass
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction():
        cur = conn.cursor()
        # Timestamps are read and rendered as text: pin how PostgreSQL writes them, and UTF-8.
        # For this transaction only (SET LOCAL): behind a transaction-mode pooler a session
        # setting would stay on a server connection that other clients get next.
        cur.execute("SET LOCAL TimeZone TO 'UTC'")
        cur.execute("SET LOCAL DateStyle TO 'ISO, MDY'")
        cur.execute("SET LOCAL client_encoding TO 'UTF8'")
        if as_of is None:
            cur.execute("SELECT now()")
            as_of = cur.fetchone()[0].astimezone(timezone.utc)
            log(f"asOf = database now() = {iso_utc(as_of)}")
        else:
            log(f"asOf = {iso_utc(as_of)}")
        start, end = compute_window(as_of, lookback, cooling)
        log(f"window = [{iso_utc(start)}, {iso_utc(end)})")
        # Naive UTC values, compared as timestamp without time zone (session TimeZone is UTC).
        bounds = {"start": start.replace(tzinfo=None), "end": end.replace(tzinfo=None)}

        cur.execute(ACTIVITY_SQL, {**bounds, "open_for_trade": OPEN_FOR_TRADE})
        actions = [Action(kind, user_id, variant_id, created_at, record_id) for kind, user_id, variant_id, created_at, record_id in cur]
        log(f"{len(actions)} actions in the window")
        if not actions:
            return start, end, None

        picked = pick_actions(actions)
        log(f"{len(picked)} users with activity")
        user_ids = list(picked)

        cur.execute(USERS_SQL, {"user_ids": user_ids})
        users = {user_id: (username, first_name) for user_id, username, first_name in cur}
        cur.execute(USER_SIZES_SQL, {"user_ids": user_ids, "attribute_name": MENS_SIZE})
        sizes = dict(cur.fetchall())
        cur.execute(LAST_ACTIVE_SQL, {"user_ids": user_ids})
        last_active = dict(cur.fetchall())

        variant_ids = sorted({action.product_variant_id for action, _ in picked.values()})
        cur.execute(VARIANTS_SQL, {"variant_ids": variant_ids, "size_key": MENS_SIZE})
        variants = {variant_id: (size, name) for variant_id, size, name in cur}
        cur.execute(INVENTORY_COUNTS_SQL, {"variant_ids": variant_ids, "open_for_trade": OPEN_FOR_TRADE})
        inventory_counts = dict(cur.fetchall())
        cur.execute(WISHLIST_COUNTS_SQL, {"variant_ids": variant_ids})
        wishlist_counts = dict(cur.fetchall())

    by_kind: dict[str, list[tuple[tuple, dict[str, str]]]] = {kind: [] for kind, *_ in AUDIENCES}
    dropped = 0
    for user_id, (action, latest) in picked.items():
        # Demand filter (section 5): no fallback to a lower-priority action.
        if action.kind == CLOSET_ADD:
            count_column, count = "wishlist_count", wishlist_counts.get(action.product_variant_id, 0)
            keep = count >= min_wishlist
        else:
            count_column, count = "inventory_count", inventory_counts.get(action.product_variant_id, 0)
            keep = count >= min_inventory
        if not keep:
            dropped += 1
            continue
        username, first_name = users[user_id]
        variant_size, product_name = variants.get(action.product_variant_id, (None, None))
        row = {
            "user_id": str(user_id),
            "username": username or "",
            "firstName": first_name if first_name is not None else "",
            "usersize": sizes.get(user_id) or "",
            "relevant_variant_size": variant_size if variant_size is not None else "Unknown",
            "product_name": product_name if product_name is not None else "",
            "variantID": str(action.product_variant_id),
            "lastActive": last_active.get(user_id) or "",
            count_column: str(count),
        }
        by_kind[action.kind].append((sort_key(user_id, latest), row))
    log(f"{dropped} users dropped by the demand filter")

    audiences = {kind: [row for _, row in sorted(rows, key=lambda item: item[0])] for kind, rows in by_kind.items()}
    return start, end, audiences


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


MAX_STAMP_ATTEMPTS = 1000  # `<stamp>`, `<stamp>-2`, ... as V2 tries


class _NameTaken(Exception):
    """A file of the set already exists under the stamp being tried."""


def write_files(output_dir: str, stamp: str, audiences: dict[str, list[dict[str, str]]]) -> list[dict]:
    """Writes the six CSVs: temp files (mode 0600) in output_dir, then linked into place.

    Never overwrites. When a name of the set exists (another run started in the same second),
    the whole set moves to `<stamp>-2`, `<stamp>-3`, ..., as V2 does. On failure, files this
    run already placed are removed.
    """
    output_dir = os.path.abspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    now_iso = iso_utc(datetime.now(timezone.utc))  # contract 7: as V2 writes it, 2026-11-28T06:00:00.000Z

    planned = []  # (file name before the stamp, text, row count, is test, audienceType)
    for kind, audience_type, stem, count_column in AUDIENCES:
        columns = BASE_COLUMNS + [count_column]
        rows = audiences[kind]
        planned.append((f"{stem}_", csv_text(columns, rows), len(rows), False, audience_type))
    for kind, audience_type, stem, count_column in AUDIENCES:
        columns = BASE_COLUMNS + [count_column]
        rows = audiences[kind]
        row = test_row(rows[0] if rows else None, count_column, now_iso)
        planned.append((f"{stem}_TEST_", csv_text(columns, [row]), 1, True, audience_type))

    temps: list[str] = []
    try:
        for before, text, *_ in planned:
            fd, temp = tempfile.mkstemp(dir=output_dir, prefix=f".tmp-{before}")
            temps.append(temp)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
        for attempt in range(1, MAX_STAMP_ATTEMPTS + 1):
            current = stamp if attempt == 1 else f"{stamp}-{attempt}"
            paths = [os.path.join(output_dir, f"{before}{current}.csv") for before, *_ in planned]
            if any(os.path.lexists(path) for path in paths):
                continue
            try:
                _place_all(temps, paths)
            except _NameTaken:
                continue  # another run took a name between the check and the link
            for path in paths:
                log(f"wrote {path}")
            return [
                {"path": path, "rowCount": count, "isTestFile": is_test, "audienceType": audience_type}
                for path, (_, _, count, is_test, audience_type) in zip(paths, planned)
            ]
        raise RunError(f"refusing to overwrite: every stamp from {stamp} to {stamp}-{MAX_STAMP_ATTEMPTS} is taken in {output_dir}")
    finally:
        for temp in temps:
            _unlink_quietly(temp)


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


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line on stderr, exit 2
        raise InputError(message)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(
        prog="generate_layer_3_push_csvs.py", description="Layer 3 push audience CSVs (V1).", allow_abbrev=False
    )
    parser.add_argument("--lookback-hours", default=_env("LOOKBACK_HOURS") or "48")
    parser.add_argument("--cooling-hours", default=_env("COOLING_HOURS") or "12")
    parser.add_argument("--output-dir", default=_env("OUTPUT_DIR") or ".script-outputs")
    parser.add_argument("--as-of", default=_env("AS_OF"))
    parser.add_argument("--min-inventory-count", default="3")
    parser.add_argument("--min-wishlist-count", default="2")
    parser.add_argument("--automation-id", default=_env("AUTOMATION_ID"))
    parser.add_argument("--database-url", default=_env("DATABASE_URL"))
    args = parser.parse_args(argv)

    args.lookback = parse_hours("--lookback-hours", args.lookback_hours)
    args.cooling = parse_hours("--cooling-hours", args.cooling_hours)
    validate_hours(args.lookback, args.cooling, args.lookback_hours, args.cooling_hours)
    args.min_inventory = parse_count("--min-inventory-count", args.min_inventory_count)
    args.min_wishlist = parse_count("--min-wishlist-count", args.min_wishlist_count)
    args.as_of_utc = parse_as_of(args.as_of) if args.as_of is not None else None
    if not args.output_dir:
        raise InputError("--output-dir must not be empty, got ''")
    if not args.database_url:
        raise InputError("--database-url (or DATABASE_URL) is required, got none")
    return args


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


def main(argv: list[str] | None = None) -> int:
    started = datetime.now(timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%S")
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except InputError as error:
        print(f"[{SCRIPT}] error: {error}", file=sys.stderr)
        return 2

    secrets = _secrets(args.database_url)
    try:
        import psycopg

        log(
            f"start {stamp}: lookbackHours={args.lookback_hours} coolingHours={args.cooling_hours} "
            f"minInventoryCount={args.min_inventory} minWishlistCount={args.min_wishlist} "
            f"automationId={args.automation_id or '-'} outputDir={args.output_dir}"
        )
        log(f"connecting to {_describe(args.database_url)}")
        with psycopg.connect(args.database_url) as conn:
            start, end, audiences = build_audiences(
                conn, args.as_of_utc, args.lookback, args.cooling, args.min_inventory, args.min_wishlist
            )

        if audiences is None:
            log("no activity in the window: no files")
            result = {"success": True, "csvFiles": [], "audienceSize": 0, "metadata": {"reason": "no_activity"}}
        else:
            for kind, audience_type, *_ in AUDIENCES:
                log(f"{audience_type}: {len(audiences[kind])} rows")
            # From here the run completes: a SIGTERM would only leave a set half-placed, or placed
            # without the result line that reports it. (The host ignores a cancel once the
            # script has exited with its result.)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            files = write_files(args.output_dir, stamp, audiences)
            result = {
                "success": True,
                "csvFiles": files,
                "audienceSize": sum(len(rows) for rows in audiences.values()),
                "metadata": {"window": {"start": iso_utc(start), "end": iso_utc(end)}},
            }
    except RunError as error:
        print(f"[{SCRIPT}] error: {_scrub(str(error), secrets)}", file=sys.stderr)
        return 1
    except Exception as error:  # database and filesystem failures
        print(f"[{SCRIPT}] error: {type(error).__name__}: {_scrub(str(error), secrets)}", file=sys.stderr)
        return 1

    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


def _exit_on_sigterm(signum, frame):
    # A timeout or a cancel in the Node host sends SIGTERM: raise SystemExit instead of dying at
    # once, so the `finally` and `except BaseException` blocks remove placed and temp files. A
    # second SIGTERM must not interrupt that cleanup.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.exit(main())
