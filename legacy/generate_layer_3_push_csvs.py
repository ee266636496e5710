#!/usr/bin/env python3
"""Layer 3 (behavior response) push audiences, V1 ("legacy") implementation.

Builds three audiences from the marketplace database -- recent offer creators,
recent closet adders and recent wishlist adders -- and writes each one as a
production CSV plus a one-row TEST CSV, following docs/layer3-contract.md row for
row; the Rust engine (layer3-behavior, V2) follows the same document and, under the
same rules, must produce byte-identical production CSVs.

By default (`--rules v1`) it writes what push-blaster's production script writes (the
contract's section 9), byte for byte as V2 does with `rules: 'v1'`, so that V1 means what
production does today: actions of the cooling period count, rows without a first name or
size are left out, an empty audience gets no file, the test file takes the second row,
Python's `str()` of lastActive, CRLF. `--rules v2` follows the contract's sections 1-8,
as V2 does by default.

Usage:
    python legacy/generate_layer_3_push_csvs.py [--lookback-hours 48] [--cooling-hours 12]
        [--output-dir .script-outputs] [--as-of ISO8601] [--min-inventory-count 3]
        [--min-wishlist-count 2] [--automation-id ID] [--database-url URL] [--rules v1|v2]

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
from v1_common import (  # noqa: E402  (the scripts' shared pieces; see v1_common.py)
    InputError,
    RunError,
    _describe,
    _env,
    _exit_on_sigterm,
    _NameTaken,
    _Parser,
    _place_all,
    _scrub,
    _secrets,
    _unlink_quietly,
    iso_utc,
)

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

# Contract section 9: the row rules. "v2" is the contract (sections 1-8), "v1" what the
# production script writes: the default of this script (V2's default is "v2").
RULES_V2 = "v2"
RULES_V1 = "v1"
RULES = (RULES_V2, RULES_V1)
DEFAULT_RULES = RULES_V1
# Section 9: the lastActive of a v1 test file, fixed.
TEST_LAST_ACTIVE_V1 = "2025-08-05 20:00:00.000000+00:00"


def log(message: str) -> None:
    print(f"[{SCRIPT}] {message}", file=sys.stderr, flush=True)


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


def compute_window_v1(as_of_utc: datetime, lookback_hours: float, cooling_hours: float, bounded: bool) -> tuple[datetime, datetime | None]:
    """Contract section 9, rules v1: created_at >= asOf - (lookback - cooling) h, and <= asOf
    when asOf was given (bounded); without asOf no upper bound (the script's `>= now() - ...`).

    The start is the v2 window's start; the end, when there is one, is included.
    """
    start = as_of_utc - timedelta(microseconds=hours_to_micros(lookback_hours - cooling_hours))
    return start, (as_of_utc if bounded else None)


def window_metadata(start: datetime, end: datetime | None, rules: str) -> dict:
    """The window as the result reports it, in V2's shape: the start is included; under rules v2
    the end is excluded, under v1 it is included (`endIncluded`), or null: no upper bound."""
    window = {"start": iso_utc(start), "end": iso_utc(end) if end is not None else None}
    if rules == RULES_V1:
        window["endIncluded"] = True
    return window


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


def test_source(rows: list[dict[str, str]], rules: str = RULES_V2) -> dict[str, str] | None:
    """The production row a TEST file copies its product from: the first (section 7), or under
    rules v1 the second, the first when there is only one (section 9); None when there is none."""
    if not rows:
        return None
    if rules == RULES_V1 and len(rows) > 1:
        return rows[1]
    return rows[0]


def test_row(first_row: dict[str, str] | None, count_column: str, last_active: str) -> dict[str, str]:
    """Contract section 7: the single row of a TEST file (`first_row`: see test_source)."""
    row = dict(TEST_USER)
    if first_row is None:
        row.update(TEST_FALLBACK)
        row[count_column] = ""
    else:
        for column in ("relevant_variant_size", "product_name", "variantID", count_column):
            row[column] = first_row[column]
    row["lastActive"] = last_active
    return row


def last_active_v1(value: datetime | None, text: str | None) -> str:
    """Contract section 9: lastActive under rules v1, as the production script prints it.

    `value` is the latest last_active as the database driver returns it: a naive datetime for
    `timestamp`, an aware one for `timestamptz` (session TimeZone UTC, so its str() ends in
    `+00:00`); Python's str() gives `2026-11-28 08:07:00` or `2026-11-28 08:07:00.120000+00:00`
    (six fraction digits when not zero). `value` is None when the value is NULL or one Python
    cannot hold (infinity, years before 1 or after 9999): then `text`, PostgreSQL's text of it,
    is written as it is (empty when NULL).
    """
    if value is not None:
        return str(value)
    return text if text is not None else ""


def variant_size_v1(value: str | None) -> str:
    """Contract section 9: relevant_variant_size under rules v1, `Unknown` when missing, NULL or empty."""
    return value if value else "Unknown"


def profile_complete(row: dict[str, str]) -> bool:
    """Contract section 9: under rules v1 a row needs a first name and a size (neither empty)."""
    return bool(row["firstName"]) and bool(row["usersize"])


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


def csv_text_v1(columns: list[str], rows: list[dict[str, str]]) -> str:
    """Contract section 9: the production script's CSV, Python's csv module with its defaults
    (the `excel` dialect): QUOTE_MINIMAL, `\r\n` after every row, the last included."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[column] for column in columns])
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------

_ACTIVITY_SQL_TEMPLATE = """
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
   {until_ii}
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
   {until_wi}
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
           {until_wo}
       ) first_item ON first_item.offer_id = o.id AND first_item.item_rank = 1
 WHERE u.deleted_at = 0
   AND o.created_at >= %(start)s::timestamp
   {until_o}
"""


# Rules v1 without an asOf has no upper bound (the production script's `created_at >= now() - ...`)
# but for what no date can be: `infinity` and years past 9999, which Python cannot hold either.
# V2 reads below the same instant.
NO_UPPER_BOUND = "'10000-01-01 00:00:00'::timestamp"


def activity_sql(end_operator: str | None) -> str:
    """The activity query with its upper bound: `created_at < end` (v2), `<= end` (v1 with an
    asOf) or, for None (v1 without asOf), only `created_at < NO_UPPER_BOUND`."""
    sql = _ACTIVITY_SQL_TEMPLATE
    for alias in ("ii", "wi", "wo", "o"):
        if end_operator is None:
            until = f"AND {alias}.created_at < {NO_UPPER_BOUND}"
        elif end_operator in ("<", "<="):
            until = f"AND {alias}.created_at {end_operator} %(end)s::timestamp"
        else:
            raise ValueError(end_operator)
        sql = sql.replace(f"{{until_{alias}}}", until)
    return sql


ACTIVITY_SQL = activity_sql("<")

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

# Rules v1: the latest last_active as a value the driver turns into a datetime, or NULL when
# Python's datetime cannot hold it (infinity, years before 1 or after 9999; the session
# TimeZone is UTC, so these are UTC years), and PostgreSQL's text of it for those.
LAST_ACTIVE_V1_SQL = """
SELECT user_id,
       CASE WHEN isfinite(last_active) AND last_active >= '0001-01-01 00:00:00' AND last_active < '10000-01-01 00:00:00'
            THEN last_active END AS value,
       last_active::text AS text
  FROM (SELECT ua.user_id, max(ua.last_active) AS last_active
          FROM user_activities ua
         WHERE ua.user_id = ANY(%(user_ids)s)
         GROUP BY ua.user_id) latest
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


def build_audiences(
    conn, as_of: datetime | None, lookback: float, cooling: float, min_inventory: int, min_wishlist: int, rules: str = RULES_V2
):
    """Runs every query in one READ ONLY, REPEATABLE READ transaction.

    Returns (window_start, window_end, audiences) where audiences is None when there is
    no activity, else {kind: [row dict, ...]} in production order. Under rules v1 the window
    end is included, and None without an asOf (no upper bound).
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
        as_of_given = as_of is not None
        if as_of is None:
            cur.execute("SELECT now()")
            as_of = cur.fetchone()[0].astimezone(timezone.utc)
            log(f"asOf = database now() = {iso_utc(as_of)}")
        else:
            log(f"asOf = {iso_utc(as_of)}")
        if rules == RULES_V1:
            start, end = compute_window_v1(as_of, lookback, cooling, bounded=as_of_given)
            end_operator = "<=" if end is not None else None
            log(f"window (rules v1) = [{iso_utc(start)}, {iso_utc(end) + ']' if end is not None else 'no end)'}")
        else:
            start, end = compute_window(as_of, lookback, cooling)
            end_operator = "<"
            log(f"window = [{iso_utc(start)}, {iso_utc(end)})")
        # Naive UTC values, compared as timestamp without time zone (session TimeZone is UTC).
        bounds = {"start": start.replace(tzinfo=None), "end": end.replace(tzinfo=None) if end is not None else None}

        cur.execute(activity_sql(end_operator), {**bounds, "open_for_trade": OPEN_FOR_TRADE})
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
        if rules == RULES_V1:
            cur.execute(LAST_ACTIVE_V1_SQL, {"user_ids": user_ids})
            last_active = {user_id: last_active_v1(value, text) for user_id, value, text in cur}
        else:
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
    incomplete = 0
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
            "relevant_variant_size": (
                variant_size_v1(variant_size) if rules == RULES_V1 else variant_size if variant_size is not None else "Unknown"
            ),
            "product_name": product_name if product_name is not None else "",
            "variantID": str(action.product_variant_id),
            "lastActive": last_active.get(user_id) or "",
            count_column: str(count),
        }
        # Section 9: under rules v1 a row without a first name or size is left out (after the
        # demand filter, which does not depend on it).
        if rules == RULES_V1 and not profile_complete(row):
            incomplete += 1
            continue
        by_kind[action.kind].append((sort_key(user_id, latest), row))
    log(f"{dropped} users dropped by the demand filter")
    if rules == RULES_V1:
        log(f"{incomplete} users left out for want of a first name or size (rules v1)")

    audiences = {kind: [row for _, row in sorted(rows, key=lambda item: item[0])] for kind, rows in by_kind.items()}
    return start, end, audiences


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


MAX_STAMP_ATTEMPTS = 1000  # `<stamp>`, `<stamp>-2`, ... as V2 tries


def plan_files(audiences: dict[str, list[dict[str, str]]], rules: str = RULES_V2, now: datetime | None = None) -> list[tuple]:
    """The files of a run, in result order (production files, then test files):
    (file name before the stamp, text, row count, is test, audienceType).

    Rules v2: six files, an empty audience gets a header-only file and a test file with
    placeholders. Rules v1 (section 9): an empty audience gets no file at all, the test file
    copies the second row, its lastActive is fixed, and lines end in CRLF.
    """
    if rules == RULES_V1:
        text_of, last_active = csv_text_v1, TEST_LAST_ACTIVE_V1
    else:
        # Contract 7: the current time as V2 writes it, 2026-11-28T06:00:00.000Z.
        text_of, last_active = csv_text, iso_utc(now or datetime.now(timezone.utc))
    kept = [entry for entry in AUDIENCES if rules != RULES_V1 or audiences[entry[0]]]
    planned = []
    for kind, audience_type, stem, count_column in kept:
        rows = audiences[kind]
        planned.append((f"{stem}_", text_of(BASE_COLUMNS + [count_column], rows), len(rows), False, audience_type))
    for kind, audience_type, stem, count_column in kept:
        row = test_row(test_source(audiences[kind], rules), count_column, last_active)
        planned.append((f"{stem}_TEST_", text_of(BASE_COLUMNS + [count_column], [row]), 1, True, audience_type))
    return planned


def write_files(output_dir: str, stamp: str, audiences: dict[str, list[dict[str, str]]], rules: str = RULES_V2) -> list[dict]:
    """Writes the CSVs of plan_files (six under rules v2): temp files (mode 0600) in output_dir,
    then linked into place.

    Never overwrites. When a name of the set exists (another run started in the same second),
    the whole set moves to `<stamp>-2`, `<stamp>-3`, ..., as V2 does. On failure, files this
    run already placed are removed. With no file to write (rules v1, every audience empty) it
    writes nothing and returns [].
    """
    planned = plan_files(audiences, rules)
    if not planned:
        return []
    output_dir = os.path.abspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)

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


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


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
    parser.add_argument("--rules", choices=RULES, default=DEFAULT_RULES)
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
            f"automationId={args.automation_id or '-'} outputDir={args.output_dir} rules={args.rules}"
        )
        log(f"connecting to {_describe(args.database_url)}")
        with psycopg.connect(args.database_url) as conn:
            start, end, audiences = build_audiences(
                conn, args.as_of_utc, args.lookback, args.cooling, args.min_inventory, args.min_wishlist, args.rules
            )

        if audiences is None:
            log("no activity in the window: no files")
            result = {"success": True, "csvFiles": [], "audienceSize": 0, "metadata": {"reason": "no_activity", "rules": args.rules}}
        else:
            for kind, audience_type, *_ in AUDIENCES:
                log(f"{audience_type}: {len(audiences[kind])} rows")
            # From here the run completes: a SIGTERM would only leave a set half-placed, or placed
            # without the result line that reports it. (The host ignores a cancel once the
            # script has exited with its result.)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            files = write_files(args.output_dir, stamp, audiences, args.rules)
            if not files:
                log("every audience is empty (rules v1): no files")
            result = {
                "success": True,
                "csvFiles": files,
                "audienceSize": sum(len(rows) for rows in audiences.values()),
                "metadata": {"window": window_metadata(start, end, args.rules), "rules": args.rules},
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


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.exit(main())
