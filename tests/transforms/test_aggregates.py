"""Aggregates on a tiny hand-made set of lines; expected values worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from retailpipe.schemas import AGGREGATE_COLUMNS
from retailpipe.storage import AGGREGATES
from retailpipe.transforms.aggregates import (
    Levels,
    aggregate,
    category_cells,
    cells,
    one_row_per_transaction,
    product_cells,
    receipts,
    split_receipts,
)
from tests.batch import oracle

D = dt.date(2026, 1, 5)
SCHEMA = (
    "sale_date date, transaction_id string, store_id string, category string, "
    "product_id string, payment_method string, hour int, quantity int, "
    "discount_pct decimal(5,4), gross_amount decimal(12,2), discount_amount decimal(12,2), "
    "net_amount decimal(12,2)"
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
        Decimal("0.1"),
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
        Decimal("0"),
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
        Decimal("0"),
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
        Decimal("0"),
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


def _oracle(name: str) -> dict[tuple, dict[str, object]]:
    """The table as tests/batch/oracle.py computes it from LINES in plain Python."""
    lines = [
        oracle.Line(t, n, d.isoformat(), h, s, p, c, pay, q, gross, disc, net)
        for n, (d, t, s, c, p, pay, h, q, gross, disc, net) in enumerate(LINES, start=1)
    ]
    return oracle.expected_aggregates(oracle.Truth(lines))[name]


def _keyed(name: str, rows: list) -> dict[tuple, dict[str, object]]:
    keys = [c for c in AGGREGATE_COLUMNS[name] if c in oracle.KEY_COLUMNS]
    out = {}
    for row in rows:
        record = row.asDict()
        key = tuple(record[k].isoformat() if k == "sale_date" else record[k] for k in keys)
        out[key] = {m: v for m, v in record.items() if m not in keys}
    return out


def test_the_cube_counts_receipts_per_category_and_sums_promotions(spark) -> None:
    rows = aggregate("daily_store_category_sales", spark.createDataFrame(LINES, SCHEMA))
    got = {(r.store_id, r.category): tuple(r)[3:] for r in rows.collect()}
    zero, ten = Decimal("0.00"), Decimal("10.00")
    assert got == {
        # transactions, lines, units, gross, discount, net, returned, promotion
        ("S1", "grocery"): (
            1,
            1,
            2,
            Decimal("4.00"),
            Decimal("0.40"),
            Decimal("3.60"),
            zero,
            Decimal("3.60"),
        ),
        ("S1", "home"): (1, 1, 1, ten, zero, ten, zero, zero),
        ("S2", "grocery"): (1, 1, 1, Decimal("2.00"), zero, Decimal("2.00"), zero, zero),
        ("S2", "home"): (1, 1, -1, -ten, zero, -ten, -ten, zero),
    }


def _levels(df, kept: bool, with_cells: bool) -> Levels:
    if not kept:
        return Levels()
    rows = receipts(df)
    unique = one_row_per_transaction(rows)
    return Levels(
        receipts=rows,
        unique=unique,
        cells=cells(rows) if with_cells and unique else None,
        category_cells=category_cells(df) if with_cells else None,
        product_cells=product_cells(df) if with_cells else None,
    )


@pytest.mark.parametrize("kept", [False, True])
@pytest.mark.parametrize("with_cells", [False, True])
def test_kept_levels_give_the_same_tables(spark, kept, with_cells) -> None:
    """From kept receipt rows (one per transaction here), their cells, or straight from the
    lines: every table the same."""
    df = spark.createDataFrame(LINES, SCHEMA)
    levels = _levels(df, kept, with_cells)
    assert levels.unique == kept
    for name in (n for n in AGGREGATES if n != "split_receipts"):
        got = sorted(map(tuple, aggregate(name, df, levels).collect()))
        assert got == sorted(map(tuple, aggregate(name, df).collect())), name


def test_a_receipt_over_two_hours_counts_once_in_each(spark) -> None:
    late_line = (D, "T1", "S1", "toys", "P3", "card", 10, 1, *(Decimal(x) for x in "0101"))
    df = spark.createDataFrame([*LINES, late_line], SCHEMA)
    rows = receipts(df)
    assert not one_row_per_transaction(rows)
    hourly = {r.hour: r.transactions for r in aggregate("hourly_sales", df, Levels(rows)).collect()}
    assert hourly == {9: 1, 10: 3}
    (daily,) = aggregate("daily_sales", df, Levels(rows)).collect()
    assert (daily.transactions, daily.lines) == (3, 5)


@pytest.mark.parametrize("with_cells", [False, True])
def test_a_receipt_with_one_category_in_two_hours_counts_once(spark, with_cells) -> None:
    """T1 has grocery lines at 9 and at 10: two category cells, one receipt. Summing the
    cells' counts would say 2; receipts are not unique, so the cube counts per transaction."""
    second = (D, "T1", "S1", "grocery", "P3", "card", 10, 1, *(Decimal(x) for x in "0101"))
    df = spark.createDataFrame([*LINES, second], SCHEMA)
    levels = _levels(df, True, with_cells)
    assert not levels.unique
    for name in ("daily_store_category_sales", "daily_category_sales"):
        got = {
            (r.category, getattr(r, "store_id", "S1")): r.transactions
            for r in aggregate(name, df, levels).collect()
        }
        assert got[("grocery", "S1")] == (1 if name == "daily_store_category_sales" else 2), name
    hours = aggregate("hourly_store_sales", df, levels).collect()
    assert {(r.store_id, r.category, r.hour): r.lines for r in hours}[("S1", "grocery", 10)] == 1


def test_split_receipts_lists_where_receipts_on_two_days_have_lines(spark) -> None:
    """A late line keeps its own, earlier timestamp: T1 is then on two sale dates."""
    earlier = D - dt.timedelta(days=2)
    late = (earlier, "T1", "S1", "toys", "P3", "card", 9, 1, *(Decimal(x) for x in "0101"))
    df = spark.createDataFrame([*LINES, late], SCHEMA)
    expected = [(earlier, "T1", "S1", "toys"), (D, "T1", "S1", "grocery"), (D, "T1", "S1", "home")]
    for rows in (None, receipts(df)):
        assert sorted(map(tuple, split_receipts(df, rows).collect())) == expected
    assert split_receipts(spark.createDataFrame(LINES, SCHEMA)).isEmpty()
