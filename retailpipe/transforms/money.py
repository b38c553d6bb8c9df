"""The money rules (docs/data-contract.md): exact decimals, lines rounded half-up to cents first."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from retailpipe.schemas import MONEY

# Beyond these a line amount would not fit DECIMAL(12,2): batch quarantines and the stream
# dead-letters such lines as bad_number.
MAX_QUANTITY = 100_000
MAX_PRICE = 100_000


def gross_amount(quantity: Column, unit_price: Column) -> Column:
    """quantity x unit_price, rounded half-up to cents."""
    return F.round(quantity.cast("decimal(10,0)") * unit_price, 2).cast(MONEY)


def discount_amount(gross: Column, discount_pct: Column) -> Column:
    """gross x discount_pct, rounded half-up to cents (Spark's round is HALF_UP)."""
    return F.round(gross * discount_pct, 2).cast(MONEY)


def with_line_amounts(df: DataFrame) -> DataFrame:
    """Add gross_amount, discount_amount and net_amount from quantity, unit_price, discount_pct.

    `net = gross - discount` uses the rounded values, so every sum is a sum of cents.
    """
    gross = gross_amount(F.col("quantity"), F.col("unit_price"))
    return (
        df.withColumn("gross_amount", gross)
        .withColumn(
            "discount_amount", discount_amount(F.col("gross_amount"), F.col("discount_pct"))
        )
        .withColumn("net_amount", (F.col("gross_amount") - F.col("discount_amount")).cast(MONEY))
    )
