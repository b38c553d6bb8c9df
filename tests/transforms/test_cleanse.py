"""Cleanse and validate on tiny DataFrames; expected values worked out by hand."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from retailpipe.batch.extract import map_header
from retailpipe.schemas import normalise_name
from retailpipe.settings import default_aliases
from retailpipe.transforms.cleanse import cleanse, derived_transaction_id, normalise_label
from retailpipe.transforms.duplicates import repeated_keys, repeated_lines
from tests.oracle import COLUMNS as RAW_COLUMNS

COLUMNS = (*RAW_COLUMNS, "amount")


def _rows(
    spark,
    records: list[dict[str, str | None]],
    amount_only: bool = False,
    timezone: str | None = None,
    store_tz: str | None = None,
):
    data = []
    for i, rec in enumerate(records):
        base = {
            "transaction_id": f"T{i}",
            "line_no": "1",
            "timestamp": "2026-01-05T10:00:00-05:00",
            "store_id": "S1",
            "product_id": "P1",
            "category": "Grocery",
            "quantity": "1",
            "unit_price": "1.00",
            "discount_pct": "0",
            "payment_method": "card",
            "customer_id": "",
            "amount": None,
        }
        base.update(rec)
        data.append(
            (
                "file:/x/f.csv",
                "f.csv",
                i + 2,
                "raw",
                False,
                False,
                amount_only,
                True,
                *(base[c] for c in COLUMNS),
                None,
            )
        )
    schema = (
        "source_uri string, source_file string, line_number long, raw_line string, "
        "malformed boolean, derived_id boolean, amount_only boolean, has_line_no boolean, "
        + ", ".join(f"{c} string" for c in COLUMNS)
        + ", unmappable string"
    )
    stores = spark.createDataFrame(
        [("S1", "Store 1", "Boston", "NE", store_tz)],
        "store_id_d string, store_name string, city string, region string, store_tz string",
    )
    products = spark.createDataFrame(
        [("P1", "Pasta", "Acme", "grocery")],
        "product_id_d string, product_name string, brand string, product_category string",
    )
    return cleanse(spark.createDataFrame(data, schema), stores, products, timezone).collect()


@pytest.mark.parametrize(
    ("quantity", "price", "pct", "gross", "discount", "net"),
    [
        ("1", "1.25", "0.10", "1.25", "0.13", "1.12"),  # 0.125 -> 0.13 (half-up)
        ("7", "0.15", "0.50", "1.05", "0.53", "0.52"),  # 0.525 -> 0.53
        ("-1", "1.25", "0.10", "-1.25", "-0.13", "-1.12"),  # a return rounds away from zero
        ("3", "33.33", "0.3333", "99.99", "33.33", "66.66"),  # 33.326667 -> 33.33
    ],
)
def test_line_amounts_round_half_up(spark, quantity, price, pct, gross, discount, net) -> None:
    (row,) = _rows(spark, [{"quantity": quantity, "unit_price": price, "discount_pct": pct}])
    assert row.reason is None
    assert (row.gross_amount, row.discount_amount, row.net_amount) == (
        Decimal(gross),
        Decimal(discount),
        Decimal(net),
    )
    assert row.is_return == (int(quantity) < 0)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"discount_pct": "1.00"}, "discount_out_of_range"),  # 100 % discount rejected
        ({"discount_pct": "-0.1"}, "discount_out_of_range"),
        ({"quantity": "0"}, "zero_quantity"),
        ({"quantity": "1.5"}, "bad_number"),
        ({"unit_price": "1.005"}, "bad_number"),
        ({"unit_price": "-1.00"}, "negative_price"),
        ({"timestamp": "2026-01-05T10:00:00"}, "bad_timestamp"),  # no offset
        ({"timestamp": "2026-02-30T10:00:00Z"}, "bad_timestamp"),
        ({"store_id": "S9"}, "unknown_store"),
        ({"product_id": "P9"}, "unknown_product"),
        ({"payment_method": "  "}, "missing_field"),
        ({"line_no": "0"}, "bad_number"),
    ],
)
def test_each_check_gives_its_reason(spark, change, reason) -> None:
    (row,) = _rows(spark, [change])
    assert row.reason == reason
    assert row.sale_date is None and row.transaction_id is None


def test_normalises_text_and_takes_the_local_date(spark) -> None:
    (row,) = _rows(
        spark,
        [
            {
                "timestamp": " 2026-01-05T23:30:00-05:00 ",
                "category": " Personal Care",
                "payment_method": "Credit Card",
                "customer_id": " ",
            }
        ],
    )
    assert row.reason is None
    assert str(row.sale_date) == "2026-01-05"  # 04:30 UTC on the 6th, local day the 5th
    assert row.hour == 23
    assert (row.category, row.payment_method, row.customer_id) == ("personal_care", "card", None)


LABELS = [
    "Grocery",
    "  HOME  ",
    "personal care",
    "Personal\tCare",
    "home - and -garden",
    "a\x0bb\x0cc\rd\ne",
    "-",
    "   ",
    "",
    None,
    "Électronique",
    "\u00a0baby",  # a no-break space is not a separator in Java's \s
]


def _label_oracle(value: str | None) -> str | None:
    if value is None:
        return None
    label = re.sub(r"[ \t\n\x0b\f\r-]+", "_", value.strip(" ").lower())
    return label or None


def test_labels_with_and_without_separators_normalise_alike(spark) -> None:
    df = spark.createDataFrame([(i, v) for i, v in enumerate(LABELS)], "i int, v string")
    got = [
        r.label
        for r in df.select("i", normalise_label(F.col("v")).alias("label")).orderBy("i").collect()
    ]
    assert got == [_label_oracle(v) for v in LABELS]


def test_amount_only_rows_take_net_from_amount(spark) -> None:
    (row,) = _rows(
        spark, [{"unit_price": None, "amount": "9.99", "quantity": "3"}], amount_only=True
    )
    assert row.reason is None
    assert (row.gross_amount, row.discount_amount, row.net_amount) == (
        Decimal("9.99"),
        Decimal("0.00"),
        Decimal("9.99"),
    )
    assert row.unit_price is None


def test_derived_ids_are_deterministic(spark) -> None:
    df = spark.createDataFrame([("a.csv", 7), ("a.csv", 7), ("a.csv", 8)], "f string, n long")
    ids = [r[0] for r in df.select(derived_transaction_id(F.col("f"), F.col("n"))).collect()]
    expected = "X" + hashlib.sha256(b"a.csv:7").hexdigest()[:20]
    assert ids[0] == ids[1] == expected and ids[2] != expected


def test_repeats_are_later_copies_by_file_then_line(spark) -> None:
    rows = [
        ("T1", 1, "b.csv", 2),
        ("T1", 1, "a.csv", 9),
        ("T1", 1, "a.csv", 3),
        ("T1", 2, "a.csv", 5),  # another line of the same receipt: not a repeat
        ("T2", 1, "a.csv", 4),
    ]
    lines = spark.createDataFrame(
        rows, "transaction_id string, line_no int, source_file string, source_line long"
    ).withColumn("sale_date", F.lit("2026-01-05").cast("date"))
    repeats = repeated_lines(lines, repeated_keys(lines)).collect()
    assert sorted((r.source_file, r.source_line) for r in repeats) == [("a.csv", 9), ("b.csv", 2)]


def test_missing_field_detail_names_only_the_empty_fields(spark) -> None:
    (row,) = _rows(spark, [{"store_id": " ", "quantity": None}])
    assert (row.reason, row.detail) == ("missing_field", "empty: store_id, quantity")


def test_aliases_map_other_exports() -> None:
    header = ["Receipt ID", "ORDER-TIME", "Store", "SKU", "Qty", "Price", "Payment Type", "note"]
    mapping = map_header(header, default_aliases())
    assert mapping.mappable
    assert mapping.columns == {
        "transaction_id": 0,
        "timestamp": 1,
        "store_id": 2,
        "product_id": 3,
        "quantity": 4,
        "unit_price": 5,
        "payment_method": 6,
    }
    assert normalise_name("\ufeff Line Number ") == "line_number"


def test_unmappable_header_names_missing_columns() -> None:
    mapping = map_header(["when", "store_id", "qty", "total"], default_aliases())
    assert not mapping.mappable
    assert mapping.missing == ("timestamp", "product_id", "payment_method")


def _utc(moment: dt.datetime) -> str:
    """A collected timestamp (naive, in this process's zone) as UTC text."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat()


def test_local_times_are_read_in_the_configured_zone(spark) -> None:
    # Worked out by hand: London is UTC+1 in July (BST) and UTC+0 in January.
    summer, winter = {"timestamp": "2025-07-01 09:30:00"}, {"timestamp": "2025-01-01T23:59:59"}
    rows = _rows(spark, [summer, winter], timezone="Europe/London")
    assert [r["reason"] for r in rows] == [None, None]
    assert [_utc(r["event_ts"]) for r in rows] == [
        "2025-07-01T08:30:00",
        "2025-01-01T23:59:59",
    ]
    # The sale date and hour stay the local ones as written.
    assert [(r["sale_date"].isoformat(), r["hour"]) for r in rows] == [
        ("2025-07-01", 9),
        ("2025-01-01", 23),
    ]


def test_a_local_time_without_a_zone_is_quarantined_with_the_fix(spark) -> None:
    (row,) = _rows(spark, [{"timestamp": "2025-09-01 14:33:34"}])
    assert row["reason"] == "bad_timestamp"
    assert row["detail"] == "timestamp 2025-09-01 14:33:34 has no UTC offset; set batch.timezone"
    # A timestamp that is no time at all says nothing about zones.
    (other,) = _rows(spark, [{"timestamp": "yesterday"}], timezone="UTC")
    assert (other["reason"], other["detail"]) == ("bad_timestamp", "timestamp yesterday")


def test_the_stores_zone_wins_over_the_setting(spark) -> None:
    (row,) = _rows(
        spark,
        [{"timestamp": "2025-03-30 12:00:00"}],
        timezone="UTC",
        store_tz="America/New_York",  # EDT (UTC-4) since 9 March 2025
    )
    assert _utc(row["event_ts"]) == "2025-03-30T16:00:00"
    # An explicit offset is an instant already: no zone applies.
    (fixed,) = _rows(spark, [{"timestamp": "2025-03-30T12:00:00+02:00"}], store_tz="Asia/Tokyo")
    assert _utc(fixed["event_ts"]) == "2025-03-30T10:00:00"
