"""The daily aggregates (docs/data-contract.md, "Curated tables") from curated transaction lines.

No DISTINCT aggregate. Lines are first summed per transaction and key, so the number of
transactions per key is a plain row count at the second level. Four of the six tables are
keyed by what a receipt normally has one of (store, payment method, hour): those start
from `receipts`, one row per (sale_date, transaction_id, store_id, payment_method, hour),
about a third as many rows as lines. When no transaction spans two such rows
(`one_row_per_transaction`), a receipt row is a transaction and one level is enough; then
those four tables are sums of `cells`, one row per (sale_date, store_id, payment_method,
hour), a few thousand rows instead of a third of the lines.

When the lines are hash-partitioned by (sale_date, transaction_id), as the batch job's are,
every per-transaction level runs without a shuffle; only small results are exchanged.

Money is summed as whole cents (longs) and turned back into DECIMAL(18,2) at the end: exact
all the same, and Spark sums longs in fixed-width hash-map slots, where a DECIMAL(12,2) sum
(a DECIMAL(22,2) buffer) goes through BigDecimal on every line and takes three times the
memory per group.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from retailpipe.schemas import AGGREGATE_COLUMNS, DAILY_MEASURES, MONEY_SUM

# Each aggregate's key after sale_date.
KEYS: dict[str, tuple[str, ...]] = {
    "daily_sales": (),
    "daily_store_sales": ("store_id",),
    "daily_category_sales": ("category",),
    "daily_product_sales": ("product_id",),
    "daily_payment_sales": ("payment_method",),
    "hourly_sales": ("hour",),
}
RECEIPT: tuple[str, ...] = ("sale_date", "transaction_id", "store_id", "payment_method", "hour")
CELL: tuple[str, ...] = tuple(c for c in RECEIPT if c != "transaction_id")
# The summed measures: every daily measure but the two derived from a count.
MEASURES: tuple[str, ...] = tuple(
    m for m in DAILY_MEASURES if m not in ("transactions", "avg_basket")
)
COUNTS: tuple[str, ...] = ("lines", "units")


def _hundred() -> Column:
    return F.lit(100).cast("decimal(3,0)")


def _cents(amount: Column) -> Column:
    """A DECIMAL(12,2) amount as a whole number of cents."""
    return (amount * _hundred()).cast("long")


def _line_measures(lines: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """`keys` plus each line's measures (money in cents), so that every level above is a
    plain sum."""
    is_return = F.col("quantity") < 0
    return lines.select(
        *keys,
        F.lit(1).alias("lines"),
        F.col("quantity").cast("long").alias("units"),
        _cents(F.col("gross_amount")).alias("gross_revenue"),
        _cents(F.col("discount_amount")).alias("discount_amount"),
        _cents(F.col("net_amount")).alias("net_revenue"),
        _cents(F.when(is_return, F.col("net_amount"))).alias("return_amount"),
    )


def _summed(df: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    return df.groupBy(*keys).agg(*(F.sum(m).alias(m) for m in MEASURES))


def receipts(lines: DataFrame) -> DataFrame:
    """One row per (sale_date, transaction_id, store_id, payment_method, hour): the sums of
    its lines, money in cents (longs) under the measure names."""
    return _summed(_line_measures(lines, RECEIPT), RECEIPT)


def _money_sum(cents: str) -> Column:
    """The sum of a cents column as money (exact: decimal division by 100)."""
    total = F.coalesce(F.sum(cents), F.lit(0)).cast("decimal(20,0)")
    return (total / _hundred()).cast(MONEY_SUM)


def cells(receipt_rows: DataFrame) -> DataFrame:
    """One row per (sale_date, store_id, payment_method, hour) of unique receipt rows (see
    `one_row_per_transaction`): the number of transactions and the sums of their measures
    (cents). Every table keyed by a part of CELL is a sum of these rows."""
    return receipt_rows.groupBy(*CELL).agg(
        F.count(F.lit(1)).alias("transactions"), *(F.sum(m).alias(m) for m in MEASURES)
    )


def _totals(rows: DataFrame, keys: tuple[str, ...], transactions: Column) -> DataFrame:
    """The daily measures per key from rows of summed measures; `transactions`: how many
    transactions a group of rows holds."""
    return rows.groupBy(*keys).agg(
        transactions.cast("long").alias("transactions"),
        F.sum("lines").cast("long").alias("lines"),
        F.coalesce(F.sum("units"), F.lit(0)).cast("long").alias("units"),
        *(_money_sum(m).alias(m) for m in MEASURES if m not in COUNTS),
    )


def aggregate(
    name: str,
    lines: DataFrame,
    receipt_rows: DataFrame | None = None,
    unique_receipts: bool = False,
    cell_rows: DataFrame | None = None,
) -> DataFrame:
    """One aggregate table, its columns in contract order.

    `receipt_rows`: `receipts(lines)`, when the caller keeps it for several tables;
    `unique_receipts`: no transaction has two rows in it (`one_row_per_transaction`);
    `cell_rows`: `cells(receipt_rows)` of unique receipts, kept by the caller.
    """
    keys = ("sale_date", *KEYS[name])
    one_per_row = F.count(F.lit(1))
    if "transactions" not in AGGREGATE_COLUMNS[name]:  # no per-transaction level needed
        return _totals(_line_measures(lines, keys), keys, one_per_row).select(
            *AGGREGATE_COLUMNS[name]
        )
    per_transaction = ("sale_date", "transaction_id", *KEYS[name])
    if cell_rows is not None and set(keys) <= set(CELL):
        totals = _totals(cell_rows, keys, F.sum("transactions"))
    else:
        if set(per_transaction) <= set(RECEIPT):
            if receipt_rows is None:
                receipt_rows, unique_receipts = receipts(lines), False
            rows = receipt_rows if unique_receipts else _summed(receipt_rows, per_transaction)
        else:
            rows = _summed(_line_measures(lines, per_transaction), per_transaction)
        totals = _totals(rows, keys, one_per_row)
    avg_basket = F.round(F.col("net_revenue") / F.col("transactions"), 2).cast(MONEY_SUM)
    return totals.withColumn("avg_basket", avg_basket).select(*AGGREGATE_COLUMNS[name])


def one_row_per_transaction(receipt_rows: DataFrame) -> bool:
    """Whether every transaction has a single store, payment method and hour (one action)."""
    per_transaction = receipt_rows.groupBy("sale_date", "transaction_id").count()
    return per_transaction.where(F.col("count") > 1).isEmpty()
