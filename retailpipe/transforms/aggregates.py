"""The daily aggregates (docs/data-contract.md, "Curated tables") from curated transaction lines.

No DISTINCT aggregate. Lines are first summed per transaction and key, so the number of
transactions per key is a plain row count at the second level. Four of the six tables are
keyed by what a receipt normally has one of (store, payment method, hour): those start
from `receipts`, one row per (sale_date, transaction_id, store_id, payment_method, hour),
about a third as many rows as lines. When no transaction spans two such rows
(`one_row_per_transaction`), a receipt row is a transaction and one level is enough; then
those four tables are sums of `cells`, one row per (sale_date, store_id, payment_method,
hour), a few thousand rows instead of a third of the lines.

The dashboards' cube (sale_date, store_id, category) and its breakdowns by product, payment
method and hour start from `category_cells`, one row per (sale_date, store_id, category,
payment_method, hour): receipts per category are counted per transaction first, and when
receipts are unique a cell's receipt count sums over payment methods, hours and stores, so
`daily_category_sales` comes from these cells as well. `product_cells` (sale_date,
store_id, category, product_id) give both product tables. Neither adds a pass over the
lines: they replace the passes the category and product tables made.

When the lines are hash-partitioned by (sale_date, transaction_id), as the batch job's are,
every per-transaction level runs without a shuffle; only small results are exchanged.

Money is summed as whole cents (longs) and turned back into DECIMAL(18,2) at the end: exact
all the same, and Spark sums longs in fixed-width hash-map slots, where a DECIMAL(12,2) sum
(a DECIMAL(22,2) buffer) goes through BigDecimal on every line and takes three times the
memory per group.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "daily_store_category_sales": ("store_id", "category"),
    "daily_store_product_sales": ("store_id", "category", "product_id"),
    "daily_store_payment_sales": ("store_id", "category", "payment_method"),
    "hourly_store_sales": ("store_id", "category", "hour"),
    "split_receipts": ("transaction_id", "store_id", "category"),
}
RECEIPT: tuple[str, ...] = ("sale_date", "transaction_id", "store_id", "payment_method", "hour")
CELL: tuple[str, ...] = tuple(c for c in RECEIPT if c != "transaction_id")
CATEGORY_RECEIPT: tuple[str, ...] = (*RECEIPT, "category")
CATEGORY_CELL: tuple[str, ...] = (*CELL, "category")
PRODUCT_CELL: tuple[str, ...] = ("sale_date", "store_id", "category", "product_id")
# The summed measures: every daily measure but the two derived from a count.
MEASURES: tuple[str, ...] = tuple(
    m for m in DAILY_MEASURES if m not in ("transactions", "avg_basket")
)
# Net revenue of lines sold on promotion (discount_pct > 0), for the cube only.
PROMO: tuple[str, ...] = ("promo_revenue",)
COUNTS: tuple[str, ...] = ("lines", "units")


@dataclass(frozen=True)
class Levels:
    """The intermediate levels a caller keeps for several tables (all optional).

    `receipts`: `receipts(lines)`; `unique`: no transaction has two rows in it
    (`one_row_per_transaction`); `cells`: `cells(receipts)` of unique receipts;
    `category_cells`: `category_cells(lines)`; `product_cells`: `product_cells(lines)`.
    """

    receipts: DataFrame | None = None
    unique: bool = False
    cells: DataFrame | None = None
    category_cells: DataFrame | None = None
    product_cells: DataFrame | None = None


def _hundred() -> Column:
    return F.lit(100).cast("decimal(3,0)")


def _cents(amount: Column) -> Column:
    """A DECIMAL(12,2) amount as a whole number of cents."""
    return (amount * _hundred()).cast("long")


def _line_measures(lines: DataFrame, keys: tuple[str, ...], promo: bool = False) -> DataFrame:
    """`keys` plus each line's measures (money in cents), so that every level above is a
    plain sum; with `promo`, also the net amount of lines sold on promotion."""
    is_return = F.col("quantity") < 0
    on_promotion = F.col("discount_pct") > 0
    extra = [_cents(F.when(on_promotion, F.col("net_amount"))).alias("promo_revenue")]
    return lines.select(
        *keys,
        F.lit(1).alias("lines"),
        F.col("quantity").cast("long").alias("units"),
        _cents(F.col("gross_amount")).alias("gross_revenue"),
        _cents(F.col("discount_amount")).alias("discount_amount"),
        _cents(F.col("net_amount")).alias("net_revenue"),
        _cents(F.when(is_return, F.col("net_amount"))).alias("return_amount"),
        *(extra if promo else []),
    )


def _measures(df: DataFrame) -> tuple[str, ...]:
    return tuple(m for m in (*MEASURES, *PROMO) if m in df.columns)


def _summed(df: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    return df.groupBy(*keys).agg(*(F.sum(m).alias(m) for m in _measures(df)))


def receipts(lines: DataFrame) -> DataFrame:
    """One row per (sale_date, transaction_id, store_id, payment_method, hour): the sums of
    its lines, money in cents (longs) under the measure names."""
    return _summed(_line_measures(lines, RECEIPT), RECEIPT)


def _money_sum(cents: str) -> Column:
    """The sum of a cents column as money (exact: decimal division by 100)."""
    total = F.coalesce(F.sum(cents), F.lit(0)).cast("decimal(20,0)")
    return (total / _hundred()).cast(MONEY_SUM)


def _counted(rows: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """Rows of one transaction each, grouped by `keys`: their number and summed measures."""
    return rows.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("transactions"), *(F.sum(m).alias(m) for m in _measures(rows))
    )


def cells(receipt_rows: DataFrame) -> DataFrame:
    """One row per (sale_date, store_id, payment_method, hour) of unique receipt rows (see
    `one_row_per_transaction`): the number of transactions and the sums of their measures
    (cents). Every table keyed by a part of CELL is a sum of these rows."""
    return _counted(receipt_rows, CELL)


def category_cells(lines: DataFrame) -> DataFrame:
    """One row per (sale_date, store_id, payment_method, hour, category): the receipts with a
    line of the category there, and the sums of those lines' measures (cents, promotion
    included). The sums make every table keyed by a part of CATEGORY_CELL; the receipt
    counts do too when receipts are unique (one store, payment method and hour each)."""
    per_receipt = _summed(_line_measures(lines, CATEGORY_RECEIPT, promo=True), CATEGORY_RECEIPT)
    return _counted(per_receipt, CATEGORY_CELL)


def product_cells(lines: DataFrame) -> DataFrame:
    """One row per (sale_date, store_id, category, product_id): the sums of its lines'
    measures (cents); every product table is a sum of these rows."""
    return _summed(_line_measures(lines, PRODUCT_CELL), PRODUCT_CELL)


def _totals(rows: DataFrame, keys: tuple[str, ...], transactions: Column) -> DataFrame:
    """The daily measures per key from rows of summed measures; `transactions`: how many
    transactions a group of rows holds."""
    return rows.groupBy(*keys).agg(
        transactions.cast("long").alias("transactions"),
        F.sum("lines").cast("long").alias("lines"),
        F.coalesce(F.sum("units"), F.lit(0)).cast("long").alias("units"),
        *(_money_sum(m).alias(m) for m in _measures(rows) if m not in COUNTS),
    )


def aggregate(name: str, lines: DataFrame, levels: Levels | None = None) -> DataFrame:
    """One aggregate table, its columns in contract order, from the kept `levels` where they
    hold it exactly, else from the lines."""
    levels = levels or Levels()
    keys = ("sale_date", *KEYS[name])
    promo = "promo_revenue" in AGGREGATE_COLUMNS[name]
    one_per_row = F.count(F.lit(1))
    if "transactions" not in AGGREGATE_COLUMNS[name]:  # sums only: any finer level holds them
        finer = (
            (levels.cells, CELL),
            (levels.category_cells, CATEGORY_CELL),
            (levels.product_cells, PRODUCT_CELL),
        )
        source = next((df for df, key in finer if df is not None and set(keys) <= set(key)), None)
        if source is None:
            source = _line_measures(lines, keys, promo)
        return _totals(source, keys, one_per_row).select(*AGGREGATE_COLUMNS[name])
    per_transaction = ("sale_date", "transaction_id", *KEYS[name])
    if levels.unique and levels.cells is not None and set(keys) <= set(CELL):
        totals = _totals(levels.cells, keys, F.sum("transactions"))
    elif levels.unique and levels.category_cells is not None and _per_category(keys):
        # Not null, like the row count daily_category_sales had before the cells.
        counted = F.coalesce(F.sum("transactions"), F.lit(0))
        totals = _totals(levels.category_cells, keys, counted)
    else:
        receipt_rows, unique = levels.receipts, levels.unique
        if set(per_transaction) <= set(RECEIPT) and not promo:
            if receipt_rows is None:
                receipt_rows, unique = receipts(lines), False
            rows = receipt_rows if unique else _summed(receipt_rows, per_transaction)
        else:
            rows = _summed(_line_measures(lines, per_transaction, promo), per_transaction)
        totals = _totals(rows, keys, one_per_row)
    avg_basket = F.round(F.col("net_revenue") / F.col("transactions"), 2).cast(MONEY_SUM)
    return totals.withColumn("avg_basket", avg_basket).select(*AGGREGATE_COLUMNS[name])


def _per_category(keys: tuple[str, ...]) -> bool:
    """Whether category cells count the receipts per `keys`: a receipt spans categories, so
    their counts add up over anything but the category."""
    return "category" in keys and set(keys) <= set(CATEGORY_CELL)


def split_receipts(lines: DataFrame, receipt_rows: DataFrame | None = None) -> DataFrame:
    """Where each receipt whose lines fall on more than one sale date or store has lines:
    one row per (sale_date, transaction_id, store_id, category). Receipt counts per day,
    store and cube cell count such a receipt once in each; the dashboards subtract the
    repeats with these rows, so a count over several days or stores stays distinct. A
    late line carries its own, earlier timestamp, so its receipt is one of these.

    `receipt_rows`: `receipts(lines)`, when kept (their places without a pass over lines).
    """
    place = ("transaction_id", "sale_date", "store_id")
    places = (receipt_rows if receipt_rows is not None else lines).select(*place).distinct()
    split = places.groupBy("transaction_id").count().where(F.col("count") > 1)
    # Few receipts span days (late lines): their ids are broadcast to the lines.
    return (
        lines.join(F.broadcast(split.select("transaction_id")), "transaction_id", "left_semi")
        .select(*AGGREGATE_COLUMNS["split_receipts"])
        .distinct()
    )


def one_row_per_transaction(receipt_rows: DataFrame) -> bool:
    """Whether every transaction has a single store, payment method and hour (one action)."""
    per_transaction = receipt_rows.groupBy("sale_date", "transaction_id").count()
    return per_transaction.where(F.col("count") > 1).isEmpty()
