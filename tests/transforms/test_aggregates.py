"""Aggregates on a tiny hand-made set of lines; expected values worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from retailpipe.transforms.aggregates import aggregate, cells, one_row_per_transaction, receipts

D = dt.date(2026, 1, 5)
SCHEMA = (
    "sale_date date, transaction_id string, store_id string, category string, "
    "product_id string, payment_method string, hour int, quantity int, "
    "gross_amount decimal(12,2), discount_amount decimal(12,2), net_amount decimal(12,2)"
)
LINES = [
    (
        D,
        "T1",
        "S1",
        "grocery",
        "P1",
        "card",
        9,
        2,
        Decimal("4.00"),
        Decimal("0.40"),
        Decimal("3.60"),
    ),
    (
        D,
        "T1",
        "S1",
        "home",
        "P2",
        "card",
        9,
        1,
        Decimal("10.00"),
        Decimal("0.00"),
        Decimal("10.00"),
    ),
    (
        D,
        "T2",
        "S2",
        "grocery",
        "P1",
        "cash",
        10,
        1,
        Decimal("2.00"),
        Decimal("0.00"),
        Decimal("2.00"),
    ),
    (
        D,
        "R3",
        "S2",
        "home",
        "P2",
        "cash",
        10,
        -1,
        Decimal("-10.00"),
        Decimal("0.00"),
        Decimal("-10.00"),
    ),
]


def test_daily_sales(spark) -> None:
    (row,) = aggregate("daily_sales", spark.createDataFrame(LINES, SCHEMA)).collect()
    assert row.asDict() == {
        "sale_date": D,
        "transactions": 3,
        "lines": 4,
        "units": 3,
        "gross_revenue": Decimal("6.00"),
        "discount_amount": Decimal("0.40"),
        "net_revenue": Decimal("5.60"),
        "return_amount": Decimal("-10.00"),
        "avg_basket": Decimal("1.87"),  # 5.60 / 3 = 1.8666...
    }


def test_category_counts_receipts_per_category(spark) -> None:
    rows = aggregate("daily_category_sales", spark.createDataFrame(LINES, SCHEMA)).collect()
    got = {r.category: (r.transactions, r.lines, r.net_revenue, r.return_amount) for r in rows}
    assert got == {
        "grocery": (2, 2, Decimal("5.60"), Decimal("0.00")),
        "home": (2, 2, Decimal("0.00"), Decimal("-10.00")),
    }


def test_hourly_and_payment(spark) -> None:
    df = spark.createDataFrame(LINES, SCHEMA)
    hourly = {
        r.hour: (r.transactions, r.units, r.net_revenue)
        for r in aggregate("hourly_sales", df).collect()
    }
    assert hourly == {9: (1, 3, Decimal("13.60")), 10: (2, 0, Decimal("-8.00"))}
    payment = {
        r.payment_method: (r.transactions, r.net_revenue)
        for r in aggregate("daily_payment_sales", df).collect()
    }
    assert payment == {"card": (1, Decimal("13.60")), "cash": (2, Decimal("-8.00"))}


@pytest.mark.parametrize("kept", [False, True])
@pytest.mark.parametrize("with_cells", [False, True])
def test_receipt_rows_give_the_same_tables(spark, kept, with_cells) -> None:
    """From kept receipt rows (one per transaction here), their cells, or straight from the
    lines."""
    df = spark.createDataFrame(LINES, SCHEMA)
    rows = receipts(df) if kept else None
    unique = kept and one_row_per_transaction(rows)
    assert unique == kept
    cell_rows = cells(rows) if kept and with_cells else None
    for name in ("daily_sales", "daily_store_sales", "daily_payment_sales", "hourly_sales"):
        got = sorted(map(tuple, aggregate(name, df, rows, unique, cell_rows).collect()))
        assert got == sorted(map(tuple, aggregate(name, df).collect())), name


def test_a_receipt_over_two_hours_counts_once_in_each(spark) -> None:
    late_line = (D, "T1", "S1", "toys", "P3", "card", 10, 1, *(Decimal(x) for x in ("1", "0", "1")))
    df = spark.createDataFrame([*LINES, late_line], SCHEMA)
    rows = receipts(df)
    assert not one_row_per_transaction(rows)
    hourly = {r.hour: r.transactions for r in aggregate("hourly_sales", df, rows).collect()}
    assert hourly == {9: 1, 10: 3}
    (daily,) = aggregate("daily_sales", df, rows).collect()
    assert (daily.transactions, daily.lines) == (3, 5)
