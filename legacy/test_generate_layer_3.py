"""Unit tests of the pure helpers of generate_layer_3_push_csvs.py (no database).

Run: python -m unittest legacy/test_generate_layer_3.py   (or: python legacy/test_generate_layer_3.py)
"""

import csv
import io
import os
import stat
import sys
import tempfile
import unittest
import uuid
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generate_layer_3_push_csvs as g  # noqa: E402

UTC = timezone.utc


def u(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def at(hour: int, micro: int = 0) -> datetime:
    return datetime(2024, 6, 9, hour, 0, 0, micro, tzinfo=UTC)


class CsvTest(unittest.TestCase):
    def test_quotes_only_comma_quote_cr_lf(self):
        columns = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
        row = dict(zip(columns, ["plain", "x,y", 'say "hi"', "cr\ronly", "lf\nonly", " lead", "trail ", "", "=1+2", "é😀\t"]))
        text = g.csv_text(columns, [row])
        self.assertEqual(
            text,
            'a,b,c,d,e,f,g,h,i,j\n'
            'plain,"x,y","say ""hi""","cr\ronly","lf\nonly", lead,trail ,,=1+2,é😀\t\n',
        )
        parsed = list(csv.reader(io.StringIO(text, newline="")))
        self.assertEqual(parsed[1], [row[c] for c in columns])

    def test_header_only(self):
        self.assertEqual(g.csv_text(["x", "y"], []), "x,y\n")

    def test_matches_contract_rule(self):
        def contract(value):
            if any(ch in value for ch in ',"\r\n'):
                return '"' + value.replace('"', '""') + '"'
            return value

        samples = ["", " ", "a", ",", '"', "\r", "\n", "\r\n", "a b", "'", "#x", "\\", "\x0b", "\u2028", "a\"b,c\rd\ne"]
        for value in samples:
            self.assertEqual(g.csv_text(["h", "v"], [{"h": "h", "v": value}]), "h,v\nh," + contract(value) + "\n", repr(value))


class InputTest(unittest.TestCase):
    def test_hours(self):
        self.assertEqual(g.parse_hours("--x", "48"), 48.0)
        self.assertEqual(g.parse_hours("--x", "1.5"), 1.5)
        self.assertEqual(g.parse_hours("--x", ".5"), 0.5)
        self.assertEqual(g.parse_hours("--x", "1e1"), 10.0)
        for bad in ["", "abc", "nan", "inf", "Infinity", "1_0", "0x10", " 1", "1e999"]:
            with self.assertRaises(g.InputError, msg=bad):
                g.parse_hours("--x", bad)

    def test_hour_rules(self):
        g.validate_hours(48, 12, "48", "12")
        g.validate_hours(87600, 0, "87600", "0")
        g.validate_hours(0.5, 0, "0.5", "0")
        for lookback, cooling in [(12, 12), (10, 12), (87600.5, 1), (48, -1), (0, 0)]:
            with self.assertRaises(g.InputError):
                g.validate_hours(lookback, cooling, str(lookback), str(cooling))

    def test_counts(self):
        self.assertEqual(g.parse_count("--n", "0"), 0)
        self.assertEqual(g.parse_count("--n", "12"), 12)
        for bad in ["", "-1", "1.5", "x", "1e3"]:
            with self.assertRaises(g.InputError):
                g.parse_count("--n", bad)

    def test_hours_to_micros(self):
        self.assertEqual(g.hours_to_micros(48), 48 * 3_600_000_000)
        self.assertEqual(g.hours_to_micros(1 / 3), 1_200_000_000)
        self.assertEqual(g.hours_to_micros(1e-10), 0)  # 0.00036 us
        self.assertEqual(g.hours_to_micros(0.5 / 3_600_000_000), 1)  # half rounds away from zero
        self.assertEqual(g.hours_to_micros(0.4 / 3_600_000_000), 0)

    def test_as_of(self):
        self.assertEqual(g.parse_as_of("2024-06-10T12:00:00Z"), datetime(2024, 6, 10, 12, tzinfo=UTC))
        self.assertEqual(g.parse_as_of("2024-06-10T14:00:00+02:00"), datetime(2024, 6, 10, 12, tzinfo=UTC))
        self.assertEqual(g.parse_as_of("2024-06-10 07:30:00.5-04:30"), datetime(2024, 6, 10, 12, 0, 0, 500000, tzinfo=UTC))
        self.assertEqual(g.parse_as_of("2024-06-10t12:00:00.123456789z"), datetime(2024, 6, 10, 12, 0, 0, 123456, tzinfo=UTC))
        # RFC 3339 sets no limit on fraction digits; those below the microsecond are dropped.
        self.assertEqual(g.parse_as_of("2024-06-10T12:00:00.1234567891Z"), datetime(2024, 6, 10, 12, 0, 0, 123456, tzinfo=UTC))
        self.assertEqual(g.parse_as_of("1900-01-01T00:00:00Z").year, 1900)
        self.assertEqual(g.parse_as_of(" 1899-12-31T23:30:00-01:00 ").year, 1900)  # the UTC year counts
        for bad in [
            "2024-06-10T12:00:00",
            "2024-06-10",
            "2024-06-10T12:00Z",
            "1899-12-31T23:59:59Z",
            "10000-01-01T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-06-10T24:00:00Z",
            "2024-06-10T12:00:00+25:00",
            "9999-12-31T23:00:00-05:00",
            "1900-01-01T00:30:00+01:00",
            "now",
            "2024-06-10T23:59:60Z",  # no leap seconds (PostgreSQL has none)
            "\u0662\u0660\u0662\u0664-06-10T12:00:00Z",  # Arabic-Indic digits: ASCII only
        ]:
            with self.assertRaises(g.InputError, msg=bad):
                g.parse_as_of(bad)

    def test_window(self):
        as_of = datetime(2024, 6, 10, 12, tzinfo=UTC)
        start, end = g.compute_window(as_of, 48, 12)
        self.assertEqual(start, as_of - timedelta(hours=36))
        self.assertEqual(end, as_of - timedelta(hours=12))
        start, end = g.compute_window(as_of, 1.5, 0)
        self.assertEqual((start, end), (as_of - timedelta(minutes=90), as_of))
        # the hours' difference is rounded, not the difference of rounded hours
        start, end = g.compute_window(as_of, 0.6 / 3_600_000_000, 0.4 / 3_600_000_000)
        self.assertEqual((start, end), (as_of, as_of))  # 0.2 us -> 0, not 1 us - 0 us

    def test_iso_utc(self):
        self.assertEqual(g.iso_utc(datetime(2024, 6, 10, 12, tzinfo=UTC)), "2024-06-10T12:00:00.000Z")
        self.assertEqual(g.iso_utc(datetime(2024, 6, 10, 14, 0, 0, 999999, tzinfo=timezone(timedelta(hours=2)))), "2024-06-10T12:00:00.999Z")


class RulesTest(unittest.TestCase):
    def test_priority_recency_and_ties(self):
        actions = [
            g.Action(g.WISHLIST_ADD, u(1), u(100), at(20), u(11)),
            g.Action(g.CLOSET_ADD, u(1), u(101), at(10), u(12)),
            g.Action(g.CLOSET_ADD, u(1), u(102), at(11), u(13)),
            g.Action(g.OFFER_CREATED, u(2), u(103), at(5), u(0xFF << 120)),
            g.Action(g.OFFER_CREATED, u(2), u(104), at(5), u(0x0A << 120)),
            g.Action(g.CLOSET_ADD, u(2), u(105), at(6), u(14)),
        ]
        picked = g.pick_actions(actions)
        best1, latest1 = picked[u(1)]
        self.assertEqual((best1.kind, best1.product_variant_id, latest1), (g.CLOSET_ADD, u(102), at(20)))
        best2, latest2 = picked[u(2)]
        self.assertEqual((best2.kind, best2.product_variant_id, latest2), (g.OFFER_CREATED, u(104), at(6)))

    def test_uuid_order_is_byte_order(self):
        a = uuid.UUID("7fffffff-ffff-ffff-ffff-ffffffffffff")
        b = uuid.UUID("80000000-0000-0000-0000-000000000000")
        self.assertLess(a, b)
        self.assertLess(a.bytes, b.bytes)

    def test_sort_key(self):
        keys = [
            (g.sort_key(u(3), at(10)), "c"),
            (g.sort_key(u(2), at(12)), "b"),
            (g.sort_key(u(1), at(10)), "a"),
            (g.sort_key(u(4), at(10, 1)), "d"),
        ]
        self.assertEqual([name for _, name in sorted(keys)], ["b", "d", "a", "c"])

    def test_test_row(self):
        first = {"relevant_variant_size": "10.5", "product_name": "P", "variantID": "v", "inventory_count": "7"}
        row = g.test_row(first, "inventory_count", "NOW")
        self.assertEqual(
            row,
            {
                "user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059",
                "username": "beems",
                "firstName": "Mbiyimoh",
                "usersize": "13",
                "relevant_variant_size": "10.5",
                "product_name": "P",
                "variantID": "v",
                "lastActive": "NOW",
                "inventory_count": "7",
            },
        )
        empty = g.test_row(None, "wishlist_count", "NOW")
        self.assertEqual(
            (empty["relevant_variant_size"], empty["product_name"], empty["variantID"], empty["wishlist_count"]),
            ("13", "Test Product", "test-variant-id", ""),
        )


class FilesTest(unittest.TestCase):
    def audiences(self):
        row = {c: "x" for c in g.BASE_COLUMNS}
        return {
            g.OFFER_CREATED: [dict(row, inventory_count="3")],
            g.CLOSET_ADD: [],
            g.WISHLIST_ADD: [dict(row, inventory_count="4"), dict(row, inventory_count="5")],
        }

    def test_writes_six_files_0600_and_never_overwrites(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "nested", "out")
            files = g.write_files(out, "20240610T120000", self.audiences())
            self.assertEqual([(os.path.basename(f["path"]), f["rowCount"], f["isTestFile"], f["audienceType"]) for f in files], [
                ("recent-offer-creators_20240610T120000.csv", 1, False, "offer_creators"),
                ("recent-closet-adders_20240610T120000.csv", 0, False, "closet_adders"),
                ("recent-wishlist-adders_20240610T120000.csv", 2, False, "wishlist_adders"),
                ("recent-offer-creators_TEST_20240610T120000.csv", 1, True, "offer_creators"),
                ("recent-closet-adders_TEST_20240610T120000.csv", 1, True, "closet_adders"),
                ("recent-wishlist-adders_TEST_20240610T120000.csv", 1, True, "wishlist_adders"),
            ])
            self.assertEqual(sorted(os.listdir(out)), sorted(os.path.basename(f["path"]) for f in files))
            for f in files:
                self.assertTrue(os.path.isabs(f["path"]))
                self.assertEqual(stat.S_IMODE(os.stat(f["path"]).st_mode), 0o600)
            with open(files[1]["path"], "rb") as handle:
                self.assertEqual(handle.read(), (",".join(g.BASE_COLUMNS) + ",wishlist_count\n").encode())

            # A second run in the same second: the whole set moves to -2 (as V2 does), nothing replaced.
            again = g.write_files(out, "20240610T120000", self.audiences())
            self.assertEqual(os.path.basename(again[0]["path"]), "recent-offer-creators_20240610T120000-2.csv")
            self.assertTrue(all(f["path"].endswith("_20240610T120000-2.csv") for f in again))
            self.assertEqual(len(os.listdir(out)), 12)  # no temp files left

    def test_one_existing_name_moves_the_whole_set(self):
        with tempfile.TemporaryDirectory() as tmp:
            taken = "recent-closet-adders_TEST_20240610T120000.csv"
            open(os.path.join(tmp, taken), "w").close()
            files = g.write_files(tmp, "20240610T120000", self.audiences())
            self.assertEqual(sorted(os.listdir(tmp)), sorted([taken] + [os.path.basename(f["path"]) for f in files]))
            self.assertTrue(all(f["path"].endswith("_20240610T120000-2.csv") for f in files))


class RulesV1Test(unittest.TestCase):
    """Contract section 9: the helpers of `--rules v1`."""

    def test_window(self):
        as_of = datetime(2024, 6, 10, 12, tzinfo=UTC)
        self.assertEqual(g.compute_window_v1(as_of, 48, 12, True), (as_of - timedelta(hours=36), as_of))
        self.assertEqual(g.compute_window_v1(as_of, 48, 12, False), (as_of - timedelta(hours=36), None))
        # the start is the v2 window's start
        self.assertEqual(g.compute_window_v1(as_of, 1.5, 0.25, True)[0], g.compute_window(as_of, 1.5, 0.25)[0])

    def test_window_metadata(self):
        start, end = datetime(2024, 6, 9, tzinfo=UTC), datetime(2024, 6, 10, 12, tzinfo=UTC)
        self.assertEqual(g.window_metadata(start, end, g.RULES_V2), {"start": "2024-06-09T00:00:00.000Z", "end": "2024-06-10T12:00:00.000Z"})
        self.assertEqual(
            g.window_metadata(start, end, g.RULES_V1), {"start": "2024-06-09T00:00:00.000Z", "end": "2024-06-10T12:00:00.000Z", "endIncluded": True}
        )
        self.assertEqual(g.window_metadata(start, None, g.RULES_V1), {"start": "2024-06-09T00:00:00.000Z", "end": None, "endIncluded": True})

    def test_activity_sql_bounds(self):
        v2 = g.activity_sql("<")
        self.assertEqual(v2, g.ACTIVITY_SQL)
        self.assertEqual(v2.count("created_at < %(end)s::timestamp"), 4)
        self.assertNotIn("<=", v2)
        bounded = g.activity_sql("<=")
        self.assertEqual(bounded.count("created_at <= %(end)s::timestamp"), 4)
        open_ended = g.activity_sql(None)
        self.assertNotIn("%(end)s", open_ended)
        self.assertEqual(open_ended.count("created_at < '10000-01-01 00:00:00'::timestamp"), 4)
        self.assertEqual(open_ended.count("created_at >= %(start)s::timestamp"), 4)
        for sql in (v2, bounded, open_ended):
            self.assertNotIn("{until", sql)
        with self.assertRaises(ValueError):
            g.activity_sql(">")

    def test_last_active_is_pythons_str(self):
        naive = datetime(2026, 11, 28, 8, 7)
        self.assertEqual(g.last_active_v1(naive, "2026-11-28 08:07:00"), "2026-11-28 08:07:00")
        self.assertEqual(g.last_active_v1(naive.replace(microsecond=120000), None), "2026-11-28 08:07:00.120000")
        self.assertEqual(g.last_active_v1(naive.replace(tzinfo=UTC), None), "2026-11-28 08:07:00+00:00")
        self.assertEqual(g.last_active_v1(naive.replace(microsecond=123456, tzinfo=UTC), None), "2026-11-28 08:07:00.123456+00:00")
        self.assertEqual(g.last_active_v1(datetime(2026, 11, 28, 8, 7, 0, 1, tzinfo=UTC), None), "2026-11-28 08:07:00.000001+00:00")
        # psycopg 3 gives a timestamptz the session's zone, a ZoneInfo: the same text.
        from zoneinfo import ZoneInfo

        self.assertEqual(g.last_active_v1(datetime(2026, 11, 28, 8, 7, 0, 120000, tzinfo=ZoneInfo("UTC")), None), "2026-11-28 08:07:00.120000+00:00")
        self.assertEqual(g.last_active_v1(datetime(1, 1, 1), None), "0001-01-01 00:00:00")
        # NULL, and what Python cannot hold: PostgreSQL's text as it is
        self.assertEqual(g.last_active_v1(None, None), "")
        self.assertEqual(g.last_active_v1(None, "infinity"), "infinity")
        self.assertEqual(g.last_active_v1(None, "10000-01-01 00:00:00+00"), "10000-01-01 00:00:00+00")
        self.assertEqual(g.last_active_v1(None, "0044-03-15 12:00:00 BC"), "0044-03-15 12:00:00 BC")

    def test_variant_size(self):
        self.assertEqual(g.variant_size_v1("10.5"), "10.5")
        self.assertEqual(g.variant_size_v1(" "), " ")
        self.assertEqual(g.variant_size_v1(""), "Unknown")
        self.assertEqual(g.variant_size_v1(None), "Unknown")

    def test_profile_complete(self):
        self.assertTrue(g.profile_complete({"firstName": "Ada", "usersize": "10"}))
        self.assertTrue(g.profile_complete({"firstName": " ", "usersize": "0"}))
        self.assertFalse(g.profile_complete({"firstName": "", "usersize": "10"}))
        self.assertFalse(g.profile_complete({"firstName": "Ada", "usersize": ""}))

    def test_test_source(self):
        one, two, three = {"n": "1"}, {"n": "2"}, {"n": "3"}
        self.assertIsNone(g.test_source([], g.RULES_V1))
        self.assertIsNone(g.test_source([], g.RULES_V2))
        self.assertIs(g.test_source([one], g.RULES_V1), one)
        self.assertIs(g.test_source([one, two, three], g.RULES_V1), two)
        self.assertIs(g.test_source([one, two, three], g.RULES_V2), one)
        self.assertIs(g.test_source([one, two]), one)

    def test_csv_is_pythons_default(self):
        columns = ["a", "b", "c", "d", "e", "f"]
        row = dict(zip(columns, ["plain", "x,y", 'say "hi"', "cr\ronly", "lf\nonly", ""]))
        self.assertEqual(
            g.csv_text_v1(columns, [row]),
            'a,b,c,d,e,f\r\nplain,"x,y","say ""hi""","cr\ronly","lf\nonly",\r\n',
        )
        self.assertEqual(g.csv_text_v1(["x", "y"], []), "x,y\r\n")
        # what the production script's csv.DictWriter writes
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerow(row)
        self.assertEqual(g.csv_text_v1(columns, [row]), out.getvalue())

    def test_plan(self):
        row = {c: "x" for c in g.BASE_COLUMNS}
        audiences = {
            g.OFFER_CREATED: [dict(row, variantID="o1", inventory_count="3")],
            g.CLOSET_ADD: [],
            g.WISHLIST_ADD: [dict(row, variantID="w1", inventory_count="4"), dict(row, variantID="w2", inventory_count="5")],
        }
        planned = g.plan_files(audiences, g.RULES_V1)
        self.assertEqual(
            [(before, count, is_test, audience_type) for before, _, count, is_test, audience_type in planned],
            [
                ("recent-offer-creators_", 1, False, "offer_creators"),
                ("recent-wishlist-adders_", 2, False, "wishlist_adders"),
                ("recent-offer-creators_TEST_", 1, True, "offer_creators"),
                ("recent-wishlist-adders_TEST_", 1, True, "wishlist_adders"),
            ],
        )
        header = ",".join(g.BASE_COLUMNS) + ",inventory_count\r\n"
        test_user = "0e54067c-4c0e-4e4a-8a23-a47661578059,beems,Mbiyimoh,13"
        self.assertEqual(planned[2][1], header + f"{test_user},x,x,o1,2025-08-05 20:00:00.000000+00:00,3\r\n")  # row 1 of 1
        self.assertEqual(planned[3][1], header + f"{test_user},x,x,w2,2025-08-05 20:00:00.000000+00:00,5\r\n")  # row 2
        self.assertEqual(planned[1][1], header + "x,x,x,x,x,x,w1,x,4\r\nx,x,x,x,x,x,w2,x,5\r\n")
        # v2: six files, the first row, the current time, `\n`
        planned = g.plan_files(audiences, g.RULES_V2, now=datetime(2026, 11, 28, 6, tzinfo=UTC))
        self.assertEqual(len(planned), 6)
        self.assertEqual(planned[5][1], header.replace("\r\n", "\n") + f"{test_user},x,x,w1,2026-11-28T06:00:00.000Z,4\n")
        self.assertEqual(g.plan_files({k: [] for k, *_ in g.AUDIENCES}, g.RULES_V1), [])

    def test_write_nothing_when_every_audience_is_empty(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            self.assertEqual(g.write_files(out, "20240610T120000", {k: [] for k, *_ in g.AUDIENCES}, g.RULES_V1), [])
            self.assertFalse(os.path.exists(out))

    def test_writes_only_non_empty_audiences(self):
        row = {c: "x" for c in g.BASE_COLUMNS}
        audiences = {g.OFFER_CREATED: [], g.CLOSET_ADD: [dict(row, wishlist_count="2")], g.WISHLIST_ADD: []}
        with tempfile.TemporaryDirectory() as tmp:
            files = g.write_files(tmp, "20240610T120000", audiences, g.RULES_V1)
            self.assertEqual(
                [(os.path.basename(f["path"]), f["rowCount"], f["isTestFile"], f["audienceType"]) for f in files],
                [
                    ("recent-closet-adders_20240610T120000.csv", 1, False, "closet_adders"),
                    ("recent-closet-adders_TEST_20240610T120000.csv", 1, True, "closet_adders"),
                ],
            )
            self.assertEqual(sorted(os.listdir(tmp)), sorted(os.path.basename(f["path"]) for f in files))
            with open(files[0]["path"], "rb") as handle:
                self.assertEqual(handle.read(), (",".join(g.BASE_COLUMNS) + ",wishlist_count\r\nx,x,x,x,x,x,x,x,2\r\n").encode())

    def test_rules_option(self):
        base = ["--database-url", "postgres://x@h/db"]
        # The default is production's rules (section 9): V1 means what production does today.
        self.assertEqual(g.DEFAULT_RULES, g.RULES_V1)
        self.assertEqual(g.parse_args(base).rules, "v1")
        self.assertEqual(g.parse_args(base + ["--rules", "v1"]).rules, "v1")
        self.assertEqual(g.parse_args(base + ["--rules", "v2"]).rules, "v2")
        for bad in (["--rules", "v3"], ["--rules", "V1"], ["--rules"]):
            with self.assertRaises(g.InputError):
                g.parse_args(base + bad)


class SecretsTest(unittest.TestCase):
    def test_scrub(self):
        url = "postgres://user:s3cr%40t@host:5432/db"
        secrets = g._secrets(url)
        self.assertIn("s3cr@t", secrets)
        self.assertNotIn("s3cr", g._scrub(f"failed for {url} with s3cr@t\nsecond line", secrets))


if __name__ == "__main__":
    unittest.main()
