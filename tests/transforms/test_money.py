"""Money rules on tiny DataFrames; expected values worked out by hand with Python's Decimal."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from pyspark.sql import types as T

from retailpipe.transforms.money import with_line_amounts

CENT = Decimal("0.01")
SCHEMA = T.StructType(
    [
        T.StructField("quantity", T.IntegerType()),
        T.StructField("unit_price", T.DecimalType(12, 2)),
        T.StructField("discount_pct", T.DecimalType(5, 4)),
    ]
)
CASES = [
    # quantity, price, discount -> gross, discount, net
    (1, "1.25", "0.10", "1.25", "0.13", "1.12"),  # 0.125 rounds half-up
    (3, "0.35", "0.05", "1.05", "0.05", "1.00"),  # 0.0525
    (-1, "1.25", "0.10", "-1.25", "-0.13", "-1.12"),  # returns round away from zero too
    (2, "19.99", "0.00", "39.98", "0.00", "39.98"),
    (7, "0.15", "0.50", "1.05", "0.53", "0.52"),  # 0.525
    (1, "0.00", "0.30", "0.00", "0.00", "0.00"),
]


def oracle(quantity: int, price: str, pct: str) -> tuple[Decimal, Decimal, Decimal]:
    gross = (quantity * Decimal(price)).quantize(CENT, ROUND_HALF_UP)
    discount = (gross * Decimal(pct)).quantize(CENT, ROUND_HALF_UP)
    return gross, discount, gross - discount


@pytest.mark.parametrize("case", CASES)
def test_hand_worked_cases_agree_with_decimal_oracle(case: tuple) -> None:
    quantity, price, pct, gross, discount, net = case
    assert oracle(quantity, price, pct) == (Decimal(gross), Decimal(discount), Decimal(net))


def test_line_amounts_round_each_line_half_up(spark) -> None:
    rows = [(q, Decimal(p), Decimal(d)) for q, p, d, *_ in CASES]
    out = with_line_amounts(spark.createDataFrame(rows, SCHEMA)).collect()
    got = [(r.gross_amount, r.discount_amount, r.net_amount) for r in out]
    assert got == [(Decimal(g), Decimal(d), Decimal(n)) for *_, g, d, n in CASES]
    assert all(isinstance(r.net_amount, Decimal) for r in out)
