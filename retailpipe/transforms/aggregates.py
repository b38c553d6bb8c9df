"""The daily aggregates (SPEC.md "Curated tables") from curated transaction lines."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from retailpipe.schemas import AGGREGATE_COLUMNS, MONEY_SUM


def _money_sum(column: Column) -> Column:
    return F.coalesce(F.sum(column), F.lit(0)).cast(MONEY_SUM)


def _transactions() -> Column:
    return F.count_distinct(F.col("transaction_id")).cast("long").alias("transactions")


def _units() -> Column:
    return F.coalesce(F.sum(F.col("quantity").cast("long")), F.lit(0)).cast("long").alias("units")


def _net() -> Column:
    return _money_sum(F.col("net_amount")).alias("net_revenue")


def _daily(df: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """transactions, lines, units, gross, discount, net, returns and average basket per key."""
    is_return = F.col("quantity") < 0
    grouped = df.groupBy(*keys).agg(
        _transactions(),
        F.count(F.lit(1)).cast("long").alias("lines"),
        _units(),
        _money_sum(F.col("gross_amount")).alias("gross_revenue"),
        _money_sum(F.col("discount_amount")).alias("discount_amount"),
        _net(),
        _money_sum(F.when(is_return, F.col("net_amount"))).alias("return_amount"),
    )
    avg_basket = F.round(F.col("net_revenue") / F.col("transactions"), 2).cast(MONEY_SUM)
    return grouped.withColumn("avg_basket", avg_basket)


def daily_sales(df: DataFrame) -> DataFrame:
    return _daily(df, ("sale_date",))


def daily_store_sales(df: DataFrame) -> DataFrame:
    return _daily(df, ("sale_date", "store_id"))


def daily_category_sales(df: DataFrame) -> DataFrame:
    return _daily(df, ("sale_date", "category"))


def daily_product_sales(df: DataFrame) -> DataFrame:
    return df.groupBy("sale_date", "product_id").agg(
        F.count(F.lit(1)).cast("long").alias("lines"), _units(), _net()
    )


def daily_payment_sales(df: DataFrame) -> DataFrame:
    return df.groupBy("sale_date", "payment_method").agg(_transactions(), _net())


def hourly_sales(df: DataFrame) -> DataFrame:
    return df.groupBy("sale_date", "hour").agg(_transactions(), _units(), _net())


BUILDERS: dict[str, Callable[[DataFrame], DataFrame]] = {
    "daily_sales": daily_sales,
    "daily_store_sales": daily_store_sales,
    "daily_category_sales": daily_category_sales,
    "daily_product_sales": daily_product_sales,
    "daily_payment_sales": daily_payment_sales,
    "hourly_sales": hourly_sales,
}


def aggregate(name: str, transactions: DataFrame) -> DataFrame:
    """One aggregate table, its columns in contract order."""
    return BUILDERS[name](transactions).select(*AGGREGATE_COLUMNS[name])
