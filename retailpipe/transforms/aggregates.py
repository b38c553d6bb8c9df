"""The daily aggregates (SPEC.md "Curated tables") from curated transaction lines.

Two levels, no DISTINCT aggregate: lines are first summed per (key, transaction), so the
number of transactions per key is a plain row count at the second level. When the lines
are already hash-partitioned by (sale_date, transaction_id), as the batch job's cached
rows are, the first level runs without a shuffle and only its small output is exchanged.
`daily_product_sales` has no transaction count and needs only one level.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from retailpipe.schemas import AGGREGATE_COLUMNS, MONEY_SUM

# Each aggregate's key after sale_date, and whether it reports the full set of measures.
KEYS: dict[str, tuple[str, ...]] = {
    "daily_sales": (),
    "daily_store_sales": ("store_id",),
    "daily_category_sales": ("category",),
    "daily_product_sales": ("product_id",),
    "daily_payment_sales": ("payment_method",),
    "hourly_sales": ("hour",),
}


def _money_sum(column: Column) -> Column:
    return F.coalesce(F.sum(column), F.lit(0)).cast(MONEY_SUM)


def _per_transaction(lines: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """One row per (sale_date, transaction_id, *keys) with the sums of its lines."""
    is_return = F.col("quantity") < 0
    return lines.groupBy("sale_date", "transaction_id", *keys).agg(
        F.count(F.lit(1)).alias("lines"),
        F.sum(F.col("quantity").cast("long")).alias("units"),
        F.sum("gross_amount").alias("gross_revenue"),
        F.sum("discount_amount").alias("discount_amount"),
        F.sum("net_amount").alias("net_revenue"),
        F.sum(F.when(is_return, F.col("net_amount"))).alias("return_amount"),
    )


def aggregate(name: str, transactions: DataFrame) -> DataFrame:
    """One aggregate table, its columns in contract order."""
    keys = ("sale_date", *KEYS[name])
    if "transactions" not in AGGREGATE_COLUMNS[name]:  # no per-transaction level needed
        return (
            transactions.groupBy(*keys)
            .agg(
                F.count(F.lit(1)).cast("long").alias("lines"),
                F.coalesce(F.sum(F.col("quantity").cast("long")), F.lit(0))
                .cast("long")
                .alias("units"),
                _money_sum(F.col("net_amount")).alias("net_revenue"),
            )
            .select(*AGGREGATE_COLUMNS[name])
        )
    totals = (
        _per_transaction(transactions, KEYS[name])
        .groupBy(*keys)
        .agg(
            F.count(F.lit(1)).cast("long").alias("transactions"),
            F.sum("lines").cast("long").alias("lines"),
            F.coalesce(F.sum("units"), F.lit(0)).cast("long").alias("units"),
            _money_sum(F.col("gross_revenue")).alias("gross_revenue"),
            _money_sum(F.col("discount_amount")).alias("discount_amount"),
            _money_sum(F.col("net_revenue")).alias("net_revenue"),
            _money_sum(F.col("return_amount")).alias("return_amount"),
        )
    )
    avg_basket = F.round(F.col("net_revenue") / F.col("transactions"), 2).cast(MONEY_SUM)
    return totals.withColumn("avg_basket", avg_basket).select(*AGGREGATE_COLUMNS[name])
