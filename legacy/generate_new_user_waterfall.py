#!/usr/bin/env python3
"""Layer 5 (new-user waterfall) push audiences, V1 ("legacy") implementation.

Takes the users created between `--max-days` days and `--min-hours` hours before `--as-of`
and peels them off in five mutually exclusive levels -- 1 no shoes in the closet, 2 no bio,
3 no offer created, 4 no live wishlist item, 5 new stars (everyone left) -- writing each
non-empty level as a production CSV plus a one-row test CSV. Levels 3 to 5 carry the user's
top target shoe. The rules are docs/layer5-contract.md, followed row for row; the Rust engine
(layer5-waterfall, V2) follows the same document and must write the same bytes.

Usage:
    python legacy/generate_new_user_waterfall.py [--min-hours 12] [--max-days 14]
        [--output-dir .script-outputs] [--as-of ISO8601] [--dry-run] [--automation-id ID]
        [--database-url URL]

Defaults also come from the environment: DATABASE_URL, MIN_HOURS, MAX_DAYS, OUTPUT_DIR, AS_OF,
AUTOMATION_ID (flags win). Progress logs go to stderr; on success the last line on stdout is
one JSON object describing the files written.

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

SCRIPT = "generate_new_user_waterfall"

MAX_DAYS_LIMIT = 3650  # contract, Inputs: maxDays is at most ten years
MICROS_PER_HOUR = 3_600_000_000


@dataclass(frozen=True)
class Level:
    number: int
    audience_type: str  # audienceType in the JSON result
    prefix: str  # file name prefix (contract section 4)
    has_shoe: bool  # levels 3 to 5 carry the top target shoe (section 3)


# Contract section 2, in the waterfall's order.
LEVELS = [
    Level(1, "no_shoes", "no-shoes-new-user", False),
    Level(2, "no_bio", "no-bio-new-user", False),
    Level(3, "no_offers", "no-offers-new-user", True),
    Level(4, "no_wishlist", "no-wishlist-new-user", True),
    Level(5, "new_stars", "new-stars-new-user", True),
]

BASE_COLUMNS = ["user_id", "username", "firstName", "new_user_level"]
SHOE_COLUMNS = ["top_target_shoe", "top_target_shoe_variantid"]

# Contract section 5: the test recipient and the script's fixed test shoe.
TEST_USER = {"user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059", "username": "beems", "firstName": "Mbiyimoh"}
TEST_SHOE = {"top_target_shoe": 'Air Jordan 1 Retro High OG "Bred Toe"', "top_target_shoe_variantid": "sample-variant-id-for-testing"}

# Contract section 3, step 4: the name of a shoe whose variant or product no longer exists.
UNKNOWN_PRODUCT = "Unknown Product"

NO_NEW_USERS = "no_new_users"


def log(message: str) -> None:
    print(f"[{SCRIPT}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Input parsing and validation (pure)
# --------------------------------------------------------------------------------------------

# re.ASCII: `\d` is 0-9 only (otherwise any Unicode digit, such as Arabic-Indic, would pass).
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_AS_OF_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<off_hour>\d{2}):(?P<off_minute>\d{2}))",
    re.ASCII,
)


def parse_number(option: str, text: str) -> float:
    """A finite decimal number (no inf/nan, no hex, no underscores, no spaces)."""
    if not _NUMBER_RE.fullmatch(text):
        raise InputError(f"{option} must be a finite number, got {text!r}")
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{option} must be a finite number, got {text!r}")
    return value


def validate_window_options(min_hours: float, max_days: float, min_text: str, max_text: str) -> None:
    """Contract, Inputs: minHours >= 0; 0 < maxDays <= 3650; maxDays x 24 >= minHours."""
    if not min_hours >= 0:
        raise InputError(f"--min-hours must be >= 0, got {min_text!r}")
    if not max_days > 0:
        raise InputError(f"--max-days must be > 0, got {max_text!r}")
    if max_days > MAX_DAYS_LIMIT:
        raise InputError(f"--max-days must be <= {MAX_DAYS_LIMIT}, got {max_text!r}")
    if not max_days * 24 >= min_hours:
        raise InputError(
            f"--max-days x 24 must be >= --min-hours (the window would be empty), got --max-days {max_text!r} "
            f"and --min-hours {min_text!r}"
        )


def to_micros(amount: float, micros_per_unit: int) -> int:
    """Hours or days to whole microseconds: the double product, rounded half away from zero."""
    product = amount * micros_per_unit
    whole = int(product)  # truncates toward zero
    rest = product - whole
    if rest >= 0.5:
        whole += 1
    elif rest <= -0.5:
        whole -= 1
    return whole


def parse_as_of(text: str) -> datetime:
    """An RFC 3339 date-time with `Z` or an offset, returned in UTC; its UTC year must be 1900-9999.

    Fractions beyond the microsecond are truncated (PostgreSQL keeps microseconds). As Layer 3's.
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


def compute_window(as_of_utc: datetime, min_hours: float, max_days: float) -> tuple[datetime, datetime]:
    """Contract section 1: [asOf - maxDays days, asOf - minHours hours], both ends included,
    each rounded to the microsecond. maxDays is taken as maxDays x 24 hours, as V2 does (the same
    double products, so the same rounding)."""
    start = as_of_utc - timedelta(microseconds=to_micros(max_days * 24, MICROS_PER_HOUR))
    end = as_of_utc - timedelta(microseconds=to_micros(min_hours, MICROS_PER_HOUR))
    return start, end


def window_metadata(start: datetime, end: datetime) -> dict:
    """The window as the result reports it: both ends are included."""
    return {"start": iso_utc(start), "end": iso_utc(end), "endIncluded": True}


# --------------------------------------------------------------------------------------------
# Waterfall rules (pure)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseUser:
    """A user of the base set (section 1), in the base set's order."""

    user_id: uuid.UUID
    username: str | None
    first_name: str | None
    bio: str | None


def has_bio(bio: str | None) -> bool:
    """Section 2, level 2: a bio counts when it is not NULL and not empty after PostgreSQL's
    trim(), which removes spaces (U+0020) only: a tab or a newline is a bio."""
    return bio is not None and bio.strip(" ") != ""


@dataclass(frozen=True)
class Completion:
    """Who among the base set has done each onboarding step (one snapshot)."""

    closet: frozenset  # any inventory_items row
    offers: frozenset  # created any offer
    wishlist: frozenset  # a live wishlist item


def split_levels(users: list[BaseUser], done: Completion) -> dict[int, list[BaseUser]]:
    """Section 2: each user lands in the first level whose check they fail (level 5 if none),
    keeping the base set's order within a level."""
    levels: dict[int, list[BaseUser]] = {level.number: [] for level in LEVELS}
    for user in users:
        if user.user_id not in done.closet:
            levels[1].append(user)
        elif not has_bio(user.bio):
            levels[2].append(user)
        elif user.user_id not in done.offers:
            levels[3].append(user)
        elif user.user_id not in done.wishlist:
            levels[4].append(user)
        else:
            levels[5].append(user)
    return levels


def funnel_counts(base_size: int, levels: dict[int, list] | None) -> dict:
    """Section 7: the base set's size, then each level's users and those left after it (as V2
    writes them: no level at all when the base set is empty)."""
    if not base_size or levels is None:
        return {"baseUsers": 0, "levels": {}}
    remaining = base_size
    counts = {}
    for level in LEVELS:
        extracted = len(levels.get(level.number, []))
        remaining -= extracted
        counts[str(level.number)] = {"audienceType": level.audience_type, "extracted": extracted, "remainingAfter": remaining}
    return {"baseUsers": base_size, "levels": counts}


Shoe = tuple  # (product name, variant id as text)


def chain_target_shoes(user_ids: list[uuid.UUID], steps: list[dict[uuid.UUID, Shoe]]) -> dict[uuid.UUID, Shoe]:
    """Section 3: each user's shoe from the first step that has one (steps in the contract's
    order, each a map user -> (name, variant id)); users without any are absent."""
    shoes: dict[uuid.UUID, Shoe] = {}
    for user_id in user_ids:
        for step in steps:
            shoe = step.get(user_id)
            if shoe is not None:
                shoes[user_id] = shoe
                break
    return shoes


def level_rows(level: Level, users: list[BaseUser], shoes: dict[uuid.UUID, Shoe]) -> list[dict[str, str]]:
    """Section 4: a level's rows, as text (NULL -> empty)."""
    rows = []
    for user in users:
        row = {
            "user_id": str(user.user_id),
            "username": user.username if user.username is not None else "",
            "firstName": user.first_name if user.first_name is not None else "",
            "new_user_level": str(level.number),
        }
        if level.has_shoe:
            name, variant_id = shoes.get(user.user_id, ("", ""))
            row["top_target_shoe"] = name if name is not None else ""
            row["top_target_shoe_variantid"] = variant_id if variant_id is not None else ""
        rows.append(row)
    return rows


def columns_of(level: Level) -> list[str]:
    return BASE_COLUMNS + (SHOE_COLUMNS if level.has_shoe else [])


def test_row(level: Level) -> dict[str, str]:
    """Section 5: the single row of a level's test file."""
    row = dict(TEST_USER, new_user_level=str(level.number))
    if level.has_shoe:
        row.update(TEST_SHOE)
    return row


# --------------------------------------------------------------------------------------------
# CSV (pure)
# --------------------------------------------------------------------------------------------


def csv_text(columns: list[str], rows: list[dict[str, str]]) -> str:
    """Section 6: Python's csv module with its defaults (the `excel` dialect): QUOTE_MINIMAL
    (a field is quoted when it holds `,` `"` `\\r` or `\\n`, quotes doubled), `\\r\\n` after
    every row, the last included."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[column] for column in columns])
    return out.getvalue()


def plan_files(levels: dict[int, list[dict[str, str]]]) -> list[tuple]:
    """The files of a run, in result order (as V2 lists them: level by level, each level's file
    then its test file): (file name before the stamp, text, row count, is test, audienceType).
    A level without users has no file (section 4)."""
    planned = []
    for level in LEVELS:
        rows = levels.get(level.number)
        if not rows:
            continue
        planned.append((f"{level.prefix}-", csv_text(columns_of(level), rows), len(rows), False, level.audience_type))
        planned.append((f"{level.prefix}-test-", csv_text(columns_of(level), [test_row(level)]), 1, True, level.audience_type))
    return planned


# --------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------

# Section 1. The bounds are naive UTC values compared as timestamp without time zone (the
# session TimeZone is UTC, so a timestamptz column is compared at the same instants).
BASE_SQL = """
SELECT u.id, u.username::text, u.first_name::text, u.bio::text
  FROM users u
 WHERE u.created_at >= %(start)s::timestamp
   AND u.created_at <= %(end)s::timestamp
   AND u.deleted_at = 0
   AND u.first_name IS NOT NULL
 ORDER BY u.created_at DESC, u.id
"""

# Section 2: who has done each step.
CLOSET_SQL = "SELECT DISTINCT ii.user_id FROM inventory_items ii WHERE ii.user_id = ANY(%(user_ids)s)"
OFFERS_SQL = "SELECT DISTINCT o.creator_user_id FROM offers o WHERE o.creator_user_id = ANY(%(user_ids)s)"
WISHLIST_SQL = "SELECT DISTINCT wi.user_id FROM wishlist_items wi WHERE wi.user_id = ANY(%(user_ids)s) AND wi.deleted_at = 0"

# Section 3: one candidate per user and step, ranked in SQL (timestamps never reach Python,
# so `infinity` ranks as PostgreSQL ranks it).
DESIRED_SQL = """
SELECT DISTINCT ON (di.user_id) di.user_id, p.name::text, di.product_variant_id::text
  FROM desired_items di
  JOIN product_variants pv ON pv.id = di.product_variant_id
  JOIN products p ON p.id = pv.product_id
 WHERE di.user_id = ANY(%(user_ids)s)
   AND di.deleted_at = 0
 ORDER BY di.user_id, di.offers_count DESC, di.created_at DESC, di.id
"""

LATEST_OFFER_SQL = """
SELECT DISTINCT ON (o.creator_user_id) o.creator_user_id, p.name::text, oi.product_variant_id::text
  FROM offers o
  JOIN offer_items oi ON oi.offer_id = o.id
  JOIN product_variants pv ON pv.id = oi.product_variant_id
  JOIN products p ON p.id = pv.product_id
 WHERE o.creator_user_id = ANY(%(user_ids)s)
 ORDER BY o.creator_user_id, o.created_at DESC, o.id, oi.id
"""

NEWEST_WISHLIST_SQL = """
SELECT DISTINCT ON (wi.user_id) wi.user_id, p.name::text, wi.product_variant_id::text
  FROM wishlist_items wi
  JOIN product_variants pv ON pv.id = wi.product_variant_id
  JOIN products p ON p.id = pv.product_id
 WHERE wi.user_id = ANY(%(user_ids)s)
   AND wi.deleted_at = 0
 ORDER BY wi.user_id, wi.created_at DESC, wi.id
"""

ANY_OFFER_ITEM_SQL = """
SELECT DISTINCT ON (o.creator_user_id) o.creator_user_id, coalesce(p.name::text, %(unknown)s), oi.product_variant_id::text
  FROM offers o
  JOIN offer_items oi ON oi.offer_id = o.id
  LEFT JOIN product_variants pv ON pv.id = oi.product_variant_id
  LEFT JOIN products p ON p.id = pv.product_id
 WHERE o.creator_user_id = ANY(%(user_ids)s)
   AND oi.product_variant_id IS NOT NULL
 ORDER BY o.creator_user_id, o.created_at DESC, o.id, oi.id
"""

TARGET_SHOE_STEPS = [
    ("desired item", DESIRED_SQL),
    ("latest offer", LATEST_OFFER_SQL),
    ("newest wishlist item", NEWEST_WISHLIST_SQL),
    ("any offer item", ANY_OFFER_ITEM_SQL),
]


def _ids(cur, sql: str, user_ids: list[uuid.UUID]) -> frozenset:
    cur.execute(sql, {"user_ids": user_ids})
    return frozenset(row[0] for row in cur)


def read_target_shoes(cur, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Shoe]:
    """Section 3: each step asked only for the users the earlier steps left without a shoe."""
    steps: list[dict[uuid.UUID, Shoe]] = []
    left = list(user_ids)
    for label, sql in TARGET_SHOE_STEPS:
        if not left:
            break
        cur.execute(sql, {"user_ids": left, "unknown": UNKNOWN_PRODUCT})
        found = {user_id: (name, variant_id) for user_id, name, variant_id in cur}
        log(f"target shoe, {label}: {len(found)} of {len(left)} users")
        steps.append(found)
        left = [user_id for user_id in left if user_id not in found]
    return chain_target_shoes(user_ids, steps)


def build_levels(conn, as_of: datetime | None, min_hours: float, max_days: float):
    """Runs every query in one READ ONLY, REPEATABLE READ transaction.

    Returns (asOf, window start, window end, base size, levels, shoes) where levels maps a
    level number to its users in the base set's order.
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
        start, end = compute_window(as_of, min_hours, max_days)
        log(f"window = [{iso_utc(start)}, {iso_utc(end)}]")

        cur.execute(BASE_SQL, {"start": start.replace(tzinfo=None), "end": end.replace(tzinfo=None)})
        users = [BaseUser(user_id, username, first_name, bio) for user_id, username, first_name, bio in cur]
        log(f"{len(users)} new users in the window")
        if not users:
            return as_of, start, end, 0, None, {}

        user_ids = [user.user_id for user in users]
        done = Completion(
            closet=_ids(cur, CLOSET_SQL, user_ids),
            offers=_ids(cur, OFFERS_SQL, user_ids),
            wishlist=_ids(cur, WISHLIST_SQL, user_ids),
        )
        levels = split_levels(users, done)
        with_shoe = [user.user_id for level in LEVELS if level.has_shoe for user in levels[level.number]]
        shoes = read_target_shoes(cur, with_shoe)
    return as_of, start, end, len(users), levels, shoes


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


MAX_STAMP_ATTEMPTS = 1000  # `<stamp>`, `<stamp>-2`, ... as V2 tries


def write_files(output_dir: str, stamp: str, levels: dict[int, list[dict[str, str]]]) -> list[dict]:
    """Writes the CSVs of plan_files: temp files (mode 0600) in output_dir, then linked into place.

    Never overwrites. When a name of the set exists (another run started in the same second),
    the whole set moves to `<stamp>-2`, `<stamp>-3`, ..., as V2 does. On failure, files this
    run already placed are removed. With no file to write it writes nothing and returns [].
    """
    planned = plan_files(levels)
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
        prog="generate_new_user_waterfall.py", description="Layer 5 new-user waterfall CSVs (V1).", allow_abbrev=False
    )
    parser.add_argument("--min-hours", default=_env("MIN_HOURS") or "12")
    parser.add_argument("--max-days", default=_env("MAX_DAYS") or "14")
    parser.add_argument("--output-dir", default=_env("OUTPUT_DIR") or ".script-outputs")
    parser.add_argument("--as-of", default=_env("AS_OF"))
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--automation-id", default=_env("AUTOMATION_ID"))
    parser.add_argument("--database-url", default=_env("DATABASE_URL"))
    args = parser.parse_args(argv)

    args.min_hours_value = parse_number("--min-hours", args.min_hours)
    args.max_days_value = parse_number("--max-days", args.max_days)
    validate_window_options(args.min_hours_value, args.max_days_value, args.min_hours, args.max_days)
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
            f"start {stamp}: minHours={args.min_hours} maxDays={args.max_days} dryRun={str(args.dry_run).lower()} "
            f"automationId={args.automation_id or '-'} outputDir={args.output_dir}"
        )
        log(f"connecting to {_describe(args.database_url)}")
        with psycopg.connect(args.database_url) as conn:
            as_of, start, end, base_size, levels, shoes = build_levels(conn, args.as_of_utc, args.min_hours_value, args.max_days_value)

        metadata = {
            "asOf": iso_utc(as_of),
            "window": window_metadata(start, end),
            "dryRun": args.dry_run,
            "counts": funnel_counts(base_size, levels),
        }
        if levels is None:
            log("no new users in the window: no files")
            metadata["reason"] = NO_NEW_USERS
            result = {"success": True, "csvFiles": [], "audienceSize": 0, "metadata": metadata}
        else:
            rows = {level.number: level_rows(level, levels[level.number], shoes) for level in LEVELS}
            for level in LEVELS:
                log(f"level {level.number} ({level.audience_type}): {len(rows[level.number])} users")
            audience_size = sum(len(level_rows_) for level_rows_ in rows.values())
            if args.dry_run:
                log(f"dry run: {audience_size} rows computed, no files written")
                metadata["plannedFiles"] = [
                    {"audienceType": audience_type, "isTestFile": is_test, "rowCount": count}
                    for _, _, count, is_test, audience_type in plan_files(rows)
                ]
                files = []
            else:
                # From here the run completes: a SIGTERM would only leave a set half-placed, or placed
                # without the result line that reports it.
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                files = write_files(args.output_dir, stamp, rows)
            result = {"success": True, "csvFiles": files, "audienceSize": audience_size, "metadata": metadata}
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
