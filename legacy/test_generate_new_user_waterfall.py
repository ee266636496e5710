"""Unit tests of the pure helpers of generate_new_user_waterfall.py (no database).

Run: python -m unittest legacy/test_generate_new_user_waterfall.py
"""

import csv
import io
import os
import stat
import sys
import tempfile
import unittest
import uuid
from contextlib import redirect_stderr
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generate_new_user_waterfall as g  # noqa: E402

UTC = timezone.utc
LEVEL = {level.number: level for level in g.LEVELS}


def u(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def user(n: int, bio: str | None = "hi", username: str | None = None, first_name: str | None = None) -> g.BaseUser:
    return g.BaseUser(u(n), username if username is not None else f"user{n}", first_name if first_name is not None else f"First{n}", bio)


class InputTest(unittest.TestCase):
    def test_numbers(self):
        self.assertEqual(g.parse_number("--x", "12"), 12.0)
        self.assertEqual(g.parse_number("--x", "0.5"), 0.5)
        self.assertEqual(g.parse_number("--x", ".5"), 0.5)
        self.assertEqual(g.parse_number("--x", "1e1"), 10.0)
        self.assertEqual(g.parse_number("--x", "-1"), -1.0)  # parsed; validate_window_options refuses it
        for bad in ["", "abc", "nan", "inf", "-Infinity", "1_0", "0x10", " 1", "1 ", "1e999", "\u0661"]:
            with self.assertRaises(g.InputError, msg=bad):
                g.parse_number("--x", bad)

    def test_window_options(self):
        for min_hours, max_days in [(12, 14), (0, 14), (0, 0.0001), (24, 1), (87600, 3650), (0.5, 3650)]:
            g.validate_window_options(min_hours, max_days, str(min_hours), str(max_days))
        for min_hours, max_days, message in [
            (-1, 14, "--min-hours must be >= 0"),
            (12, 0, "--max-days must be > 0"),
            (12, -1, "--max-days must be > 0"),
            (0, 3650.5, "--max-days must be <= 3650"),
            (24.5, 1, "--max-days x 24 must be >= --min-hours"),
            (87601, 3650, "--max-days x 24 must be >= --min-hours"),
        ]:
            with self.assertRaises(g.InputError) as caught:
                g.validate_window_options(min_hours, max_days, str(min_hours), str(max_days))
            self.assertIn(message, str(caught.exception))

    def test_to_micros(self):
        self.assertEqual(g.to_micros(12, g.MICROS_PER_HOUR), 12 * 3_600_000_000)
        self.assertEqual(g.to_micros(14 * 24, g.MICROS_PER_HOUR), 14 * 86_400_000_000)
        self.assertEqual(g.to_micros(3650 * 24, g.MICROS_PER_HOUR), 3650 * 86_400_000_000)
        self.assertEqual(g.to_micros(1 / 3, g.MICROS_PER_HOUR), 1_200_000_000)
        self.assertEqual(g.to_micros(0.5 / 3_600_000_000, g.MICROS_PER_HOUR), 1)  # half rounds away from zero
        self.assertEqual(g.to_micros(0.4 / 3_600_000_000, g.MICROS_PER_HOUR), 0)

    def test_window(self):
        as_of = datetime(2026, 11, 28, 12, tzinfo=UTC)
        self.assertEqual(g.compute_window(as_of, 12, 14), (as_of - timedelta(days=14), as_of - timedelta(hours=12)))
        self.assertEqual(g.compute_window(as_of, 0, 0.5), (as_of - timedelta(hours=12), as_of))
        self.assertEqual(g.compute_window(as_of, 1.5, 1.25), (as_of - timedelta(hours=30), as_of - timedelta(minutes=90)))
        # maxDays is rounded as maxDays x 24 hours (V2's products): 1 / 86400000000 days is 1 us
        self.assertEqual(g.compute_window(as_of, 0, 1 / 86_400_000_000)[0], as_of - timedelta(microseconds=1))

    def test_window_metadata(self):
        start, end = datetime(2026, 11, 14, 12, tzinfo=UTC), datetime(2026, 11, 28, 0, 0, 0, 123456, tzinfo=UTC)
        self.assertEqual(
            g.window_metadata(start, end), {"start": "2026-11-14T12:00:00.000Z", "end": "2026-11-28T00:00:00.123Z", "endIncluded": True}
        )

    def test_as_of(self):
        self.assertEqual(g.parse_as_of("2026-11-28T12:00:00Z"), datetime(2026, 11, 28, 12, tzinfo=UTC))
        self.assertEqual(g.parse_as_of("2026-11-28T14:00:00.5+02:00"), datetime(2026, 11, 28, 12, 0, 0, 500000, tzinfo=UTC))
        for bad in ["2026-11-28T12:00:00", "2026-11-28", "1899-12-31T23:59:59Z", "10000-01-01T00:00:00Z", "now", "2026-11-28T24:00:00Z"]:
            with self.assertRaises(g.InputError, msg=bad):
                g.parse_as_of(bad)

    def test_args(self):
        base = ["--database-url", "postgres://x@h/db"]
        args = g.parse_args(base)
        self.assertEqual((args.min_hours_value, args.max_days_value, args.dry_run, args.as_of_utc), (12.0, 14.0, False, None))
        args = g.parse_args(base + ["--min-hours", "0", "--max-days", "0.5", "--dry-run", "--as-of", "2026-11-28T12:00:00Z", "--automation-id", "7"])
        self.assertEqual((args.min_hours_value, args.max_days_value, args.dry_run, args.automation_id), (0.0, 0.5, True, "7"))
        for bad in (
            ["--min-hours", "x"],
            ["--max-days", "0"],
            ["--max-days", "1", "--min-hours", "25"],
            ["--output-dir", ""],
            ["--rules", "v1"],  # Layer 5 has no rules option
            ["--lookback-hours", "48"],
            ["--min"],  # no abbreviations
        ):
            with self.assertRaises(g.InputError, msg=bad):
                g.parse_args(base + bad)
        with self.assertRaises(g.InputError):
            saved = os.environ.pop("DATABASE_URL", None)
            try:
                g.parse_args([])
            finally:
                if saved is not None:
                    os.environ["DATABASE_URL"] = saved

    def test_bad_input_exits_2_with_one_line(self):
        err = io.StringIO()
        with redirect_stderr(err):
            code = g.main(["--database-url", "postgres://u:pw@h/db", "--max-days", "-3"])
        self.assertEqual(code, 2)
        self.assertEqual(err.getvalue().count("\n"), 1)
        self.assertIn("--max-days must be > 0, got '-3'", err.getvalue())


class RulesTest(unittest.TestCase):
    def test_bio_is_trimmed_of_spaces_only(self):
        for bio, expected in [
            (None, False),
            ("", False),
            (" ", False),
            ("   ", False),
            ("\t", True),
            ("\n", True),
            (" \t ", True),
            ("\u00a0", True),  # no-break space: PostgreSQL's trim() keeps it
            ("hi", True),
            ("  hi  ", True),
        ]:
            self.assertEqual(g.has_bio(bio), expected, repr(bio))

    def test_levels_are_exclusive_and_ordered(self):
        users = [
            user(1),  # no closet: 1 (even without a bio, offers or wishlist)
            user(2, bio=None),  # closet, no bio: 2
            user(3, bio="   "),  # closet, blank bio: 2
            user(4, bio="\t"),  # a tab is a bio; no offers: 3
            user(5),  # offers, no wishlist: 4
            user(6),  # everything: 5
            user(7, bio=""),  # closet, offers, wishlist, empty bio: 2
            user(8),  # no closet but everything else: 1
        ]
        done = g.Completion(
            closet=frozenset({u(2), u(3), u(4), u(5), u(6), u(7)}),
            offers=frozenset({u(5), u(6), u(7), u(8)}),
            wishlist=frozenset({u(6), u(7), u(8)}),
        )
        levels = g.split_levels(users, done)
        self.assertEqual({n: [x.user_id.int for x in rows] for n, rows in levels.items()}, {1: [1, 8], 2: [2, 3, 7], 3: [4], 4: [5], 5: [6]})

    def test_level_order_is_the_base_sets(self):
        users = [user(9), user(3), user(5)]
        levels = g.split_levels(users, g.Completion(frozenset(), frozenset(), frozenset()))
        self.assertEqual([x.user_id.int for x in levels[1]], [9, 3, 5])

    def test_funnel(self):
        levels = {1: [0, 0], 2: [], 3: [0], 4: [0, 0, 0], 5: [0]}
        self.assertEqual(
            g.funnel_counts(7, levels),
            {
                "baseUsers": 7,
                "levels": {
                    "1": {"audienceType": "no_shoes", "extracted": 2, "remainingAfter": 5},
                    "2": {"audienceType": "no_bio", "extracted": 0, "remainingAfter": 5},
                    "3": {"audienceType": "no_offers", "extracted": 1, "remainingAfter": 4},
                    "4": {"audienceType": "no_wishlist", "extracted": 3, "remainingAfter": 1},
                    "5": {"audienceType": "new_stars", "extracted": 1, "remainingAfter": 0},
                },
            },
        )
        self.assertEqual(g.funnel_counts(0, None), {"baseUsers": 0, "levels": {}})

    def test_target_shoe_chain(self):
        desired = {u(1): ("D1", "v1")}
        latest_offer = {u(1): ("O1", "x"), u(2): ("O2", "v2")}
        wishlist = {u(2): ("W2", "x"), u(3): ("W3", "v3")}
        any_offer = {u(4): ("Unknown Product", "v4")}
        shoes = g.chain_target_shoes([u(1), u(2), u(3), u(4), u(5)], [desired, latest_offer, wishlist, any_offer])
        self.assertEqual(shoes, {u(1): ("D1", "v1"), u(2): ("O2", "v2"), u(3): ("W3", "v3"), u(4): ("Unknown Product", "v4")})

    def test_rows(self):
        users = [user(1, username="a,b", first_name=""), g.BaseUser(u(2), None, "Zoë", "bio")]
        self.assertEqual(
            g.level_rows(LEVEL[2], users, {}),
            [
                {"user_id": str(u(1)), "username": "a,b", "firstName": "", "new_user_level": "2"},
                {"user_id": str(u(2)), "username": "", "firstName": "Zoë", "new_user_level": "2"},
            ],
        )
        rows = g.level_rows(LEVEL[5], users, {u(1): ("Dunk", "v")})
        self.assertEqual((rows[0]["top_target_shoe"], rows[0]["top_target_shoe_variantid"], rows[0]["new_user_level"]), ("Dunk", "v", "5"))
        self.assertEqual((rows[1]["top_target_shoe"], rows[1]["top_target_shoe_variantid"]), ("", ""))

    def test_test_rows(self):
        self.assertEqual(
            g.test_row(LEVEL[1]),
            {"user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059", "username": "beems", "firstName": "Mbiyimoh", "new_user_level": "1"},
        )
        row = g.test_row(LEVEL[4])
        self.assertEqual(row["new_user_level"], "4")
        self.assertEqual(row["top_target_shoe"], 'Air Jordan 1 Retro High OG "Bred Toe"')
        self.assertEqual(row["top_target_shoe_variantid"], "sample-variant-id-for-testing")


class CsvTest(unittest.TestCase):
    def test_csv_is_pythons_default(self):
        columns = ["a", "b", "c", "d", "e", "f", "g", "h"]
        row = dict(zip(columns, ["plain", "x,y", 'say "hi"', "cr\ronly", "lf\nonly", "", " lead\t", "é😀"]))
        text = g.csv_text(columns, [row])
        self.assertEqual(text, 'a,b,c,d,e,f,g,h\r\nplain,"x,y","say ""hi""","cr\ronly","lf\nonly",, lead\t,é😀\r\n')
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns)  # what the production script uses
        writer.writeheader()
        writer.writerow(row)
        self.assertEqual(text, out.getvalue())
        self.assertEqual(list(csv.reader(io.StringIO(text, newline="")))[1], [row[c] for c in columns])

    def test_contract_quoting_rule(self):
        def contract(value):
            return '"' + value.replace('"', '""') + '"' if any(ch in value for ch in ',"\r\n') else value

        for value in ["", " ", "a", ",", '"', "\r", "\n", "\r\n", "'", "#x", "\\", "\x0b", "\u2028", "=1+2", 'a"b,c\rd\ne']:
            self.assertEqual(g.csv_text(["h", "v"], [{"h": "h", "v": value}]), "h,v\r\nh," + contract(value) + "\r\n", repr(value))

    def test_plan(self):
        rows = {
            1: g.level_rows(LEVEL[1], [user(1)], {}),
            2: [],
            3: g.level_rows(LEVEL[3], [user(3), user(4)], {u(3): ('Air Jordan 1, "Chicago"', "v3")}),
            4: [],
            5: g.level_rows(LEVEL[5], [user(5)], {}),
        }
        planned = g.plan_files(rows)
        self.assertEqual(
            [(before, count, is_test, audience_type) for before, _, count, is_test, audience_type in planned],
            [
                ("no-shoes-new-user-", 1, False, "no_shoes"),
                ("no-shoes-new-user-test-", 1, True, "no_shoes"),
                ("no-offers-new-user-", 2, False, "no_offers"),
                ("no-offers-new-user-test-", 1, True, "no_offers"),
                ("new-stars-new-user-", 1, False, "new_stars"),
                ("new-stars-new-user-test-", 1, True, "new_stars"),
            ],
        )
        self.assertEqual(planned[0][1], f"user_id,username,firstName,new_user_level\r\n{u(1)},user1,First1,1\r\n")
        self.assertEqual(
            planned[2][1],
            "user_id,username,firstName,new_user_level,top_target_shoe,top_target_shoe_variantid\r\n"
            f'{u(3)},user3,First3,3,"Air Jordan 1, ""Chicago""",v3\r\n'
            f"{u(4)},user4,First4,3,,\r\n",
        )
        self.assertEqual(
            planned[5][1],
            "user_id,username,firstName,new_user_level,top_target_shoe,top_target_shoe_variantid\r\n"
            '0e54067c-4c0e-4e4a-8a23-a47661578059,beems,Mbiyimoh,5,"Air Jordan 1 Retro High OG ""Bred Toe""",sample-variant-id-for-testing\r\n',
        )
        self.assertEqual(planned[1][1], "user_id,username,firstName,new_user_level\r\n0e54067c-4c0e-4e4a-8a23-a47661578059,beems,Mbiyimoh,1\r\n")
        self.assertEqual(g.plan_files({n: [] for n in LEVEL}), [])


class FilesTest(unittest.TestCase):
    def rows(self):
        return {
            1: g.level_rows(LEVEL[1], [user(1)], {}),
            2: g.level_rows(LEVEL[2], [user(2, bio=None)], {}),
            3: [],
            4: [],
            5: g.level_rows(LEVEL[5], [user(5)], {}),
        }

    def test_writes_0600_and_never_overwrites(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "nested", "out")
            files = g.write_files(out, "20261128T120000", self.rows())
            self.assertEqual(
                [(os.path.basename(f["path"]), f["rowCount"], f["isTestFile"], f["audienceType"]) for f in files],
                [
                    ("no-shoes-new-user-20261128T120000.csv", 1, False, "no_shoes"),
                    ("no-shoes-new-user-test-20261128T120000.csv", 1, True, "no_shoes"),
                    ("no-bio-new-user-20261128T120000.csv", 1, False, "no_bio"),
                    ("no-bio-new-user-test-20261128T120000.csv", 1, True, "no_bio"),
                    ("new-stars-new-user-20261128T120000.csv", 1, False, "new_stars"),
                    ("new-stars-new-user-test-20261128T120000.csv", 1, True, "new_stars"),
                ],
            )
            self.assertEqual(sorted(os.listdir(out)), sorted(os.path.basename(f["path"]) for f in files))
            for f in files:
                self.assertTrue(os.path.isabs(f["path"]))
                self.assertEqual(stat.S_IMODE(os.stat(f["path"]).st_mode), 0o600)
            with open(files[2]["path"], "rb") as handle:
                self.assertEqual(handle.read(), f"user_id,username,firstName,new_user_level\r\n{u(2)},user2,First2,2\r\n".encode())

            # A second run in the same second: the whole set moves to -2, nothing replaced.
            again = g.write_files(out, "20261128T120000", self.rows())
            self.assertEqual(os.path.basename(again[0]["path"]), "no-shoes-new-user-20261128T120000-2.csv")
            self.assertTrue(all(f["path"].endswith("-20261128T120000-2.csv") for f in again))
            self.assertEqual(len(os.listdir(out)), 12)  # no temp files left

    def test_one_existing_name_moves_the_whole_set(self):
        with tempfile.TemporaryDirectory() as tmp:
            taken = "new-stars-new-user-test-20261128T120000.csv"
            with open(os.path.join(tmp, taken), "w") as handle:
                handle.write("mine")
            files = g.write_files(tmp, "20261128T120000", self.rows())
            self.assertTrue(all(f["path"].endswith("-20261128T120000-2.csv") for f in files))
            self.assertEqual(sorted(os.listdir(tmp)), sorted([taken] + [os.path.basename(f["path"]) for f in files]))
            with open(os.path.join(tmp, taken)) as handle:
                self.assertEqual(handle.read(), "mine")

    def test_nothing_to_write(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            self.assertEqual(g.write_files(out, "20261128T120000", {n: [] for n in LEVEL}), [])
            self.assertFalse(os.path.exists(out))


class SecretsTest(unittest.TestCase):
    def test_scrub(self):
        url = "postgres://user:s3cr%40t@host:5432/db"
        secrets = g._secrets(url)
        self.assertIn("s3cr@t", secrets)
        self.assertNotIn("s3cr", g._scrub(f"failed for {url} with s3cr@t\nsecond line", secrets))

    def test_connection_failure_is_exit_1_without_the_password(self):
        err, out = io.StringIO(), io.StringIO()
        # Port 1 on localhost: refused at once.
        url = "postgresql://someone:hunter2secret@127.0.0.1:1/db?connect_timeout=2"
        with redirect_stderr(err):
            saved = sys.stdout
            sys.stdout = out
            try:
                code = g.main(["--database-url", url, "--output-dir", tempfile.gettempdir()])
            finally:
                sys.stdout = saved
        self.assertEqual(code, 1)
        self.assertNotIn("hunter2secret", err.getvalue())
        self.assertEqual(out.getvalue(), "")


if __name__ == "__main__":
    unittest.main()
