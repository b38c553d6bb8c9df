"""Load: writing a run's tables into its version folder (see publish.py for the swap).

A partial run (some dates, or `--input`) recomputes every sale date its files touch and
carries over, from the published version, what other files contributed to those dates.
Local roots write the small aggregates with pyarrow on the driver; HDFS roots with Spark.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retailpipe.batch import small_write
from retailpipe.batch.run import BatchRun
from retailpipe.schemas import AGGREGATE_COLUMNS, QUARANTINE_COLUMNS, TRANSACTIONS_COLUMNS
from retailpipe.storage import AGGREGATES
from retailpipe.transforms.aggregates import (
    KEYS,
    Levels,
    aggregate,
    category_cells,
    cells,
    one_row_per_transaction,
    product_cells,
    receipts,
    split_receipts,
)

# Columns with about one value per line or receipt: a Parquet dictionary for them is built,
# overflows and is thrown away (writing `transactions` costs 25 % less CPU without).
PLAIN_ENCODED = {
    f"parquet.enable.dictionary#{name}": "false"
    for name in ("transaction_id", "event_ts", "timestamp", "customer_id", "source_line")
}
# The columns the aggregates read.
AGGREGATE_INPUT = (
    "sale_date",
    "transaction_id",
    "store_id",
    "category",
    "product_id",
    "payment_method",
    "hour",
    "quantity",
    "discount_pct",
    "gross_amount",
    "discount_amount",
    "net_amount",
)

SPLIT_INPUT = ("sale_date", "transaction_id", "store_id", "category")


def _partition(day: str) -> str:
    return f"sale_date={day}"


def published_partitions(run: BatchRun) -> set[str]:
    """The `sale_date=...` folders of the published transactions."""
    live = run.files.entries(run.storage.uri("transactions"))
    return {i.name for i in live if i.is_dir and i.name.startswith("sale_date=")}


def write_transactions(
    run: BatchRun, table: DataFrame, new_days: set[str], run_files: set[str]
) -> set[str]:
    """Write the recomputed sale-date partitions of `table` (TRANSACTIONS_COLUMNS) into the
    version; returns their names.

    `new_days`: the dates with valid lines from this run. A partial run recomputes them and
    the dates its files held rows for before; rows other files contributed are carried over.
    """
    old_parts = published_partitions(run)
    if run.full_rebuild or not old_parts:
        affected = {_partition(d) for d in new_days} | (old_parts if run.full_rebuild else set())
    else:
        old = run.spark.read.parquet(run.storage.uri("transactions"))
        from_run = old.where(F.col("source_file").isin(sorted(run_files)))
        old_days = {r[0].isoformat() for r in from_run.select("sale_date").distinct().collect()}
        affected = {_partition(d) for d in new_days | old_days}
        days = sorted(new_days | old_days)
        kept = old.where(
            F.col("sale_date").cast("string").isin(days)
            & ~F.col("source_file").isin(sorted(run_files))
        ).select(*TRANSACTIONS_COLUMNS)
        table = table.unionByName(kept)
    table.write.options(**PLAIN_ENCODED).partitionBy("sale_date").parquet(
        run.version.uri("transactions")
    )
    return affected


def write_quarantine(run: BatchRun, checked: DataFrame, run_files: set[str]) -> None:
    """The quarantined rows of this run, plus (partial runs) those of other files."""
    rows = checked.where(F.col("reason").isNotNull()).select(
        "source_file", F.col("source_line").alias("line_number"), "reason", "detail", "raw_line"
    )
    live = run.storage.uri("quarantine")
    if not run.full_rebuild and run.files.entries(live):
        old = run.spark.read.parquet(live).select(*QUARANTINE_COLUMNS)
        rows = rows.unionByName(old.where(~F.col("source_file").isin(sorted(run_files))))
    # One partition sorted within: the same single sorted file as a global sort, without
    # the extra sampling job a range-partitioned orderBy runs.
    (
        rows.repartition(1)
        .sortWithinPartitions("source_file", "line_number")
        .write.parquet(run.version.uri("quarantine"))
    )


def write_aggregates(run: BatchRun, affected: set[str], cached: DataFrame | None) -> list[str]:
    """Each aggregate: recomputed for the affected dates, carried over for other dates;
    Parquet (one file) plus one CSV file. Returns the CSV files' names.

    `cached`: the (cached) lines when they are exactly what the run wrote to the
    version's partitions (no rows carried over); else the written partitions are read.
    """
    days = sorted(p.removeprefix("sale_date=") for p in affected)
    written = run.version.uri("transactions")
    fresh = None
    if run.files.entries(written):
        if cached is not None:
            fresh = cached.select(*AGGREGATE_INPUT)
        else:
            # Six aggregates read the same few columns: read them from Parquet once.
            fresh = run.keep(run.spark.read.parquet(written).select(*AGGREGATE_INPUT))
    levels = Levels()
    if fresh is not None:
        # Four tables start from one row per receipt, kept while they are computed; when
        # receipts are unique, from the few rows per (sale_date, store, payment, hour). The
        # category and product tables start from their own small cells.
        receipt_rows = run.keep(receipts(fresh))
        unique = one_row_per_transaction(receipt_rows)
        levels = Levels(
            receipts=receipt_rows,
            unique=unique,
            cells=_small(run, cells(receipt_rows)) if unique else None,
            category_cells=_small(run, category_cells(fresh)),
            product_cells=_small(run, product_cells(fresh)),
        )
    csv_names = []
    for name in AGGREGATES:
        if name == "split_receipts":
            split = _split_receipts(run, days, fresh, levels.receipts)
            if split is not None:
                keys = ["sale_date", *KEYS[name]]
                csv_names.append(_write_aggregate(run, name, split, keys))
            continue
        parts = []
        if fresh is not None:
            parts.append(aggregate(name, fresh, levels))
        live = run.storage.uri(name)
        if not run.full_rebuild and run.files.entries(live):
            old = run.spark.read.parquet(live).select(*AGGREGATE_COLUMNS[name])
            parts.append(old.where(~F.col("sale_date").cast("string").isin(days)))
        if parts:
            table = reduce(DataFrame.unionByName, parts)
            csv_names.append(_write_aggregate(run, name, table, ["sale_date", *KEYS[name]]))
    return csv_names


def _small(run: BatchRun, level: DataFrame) -> DataFrame:
    """A small level kept in one partition: each of the tables summed from it is then one
    stage and one task (no shuffle), instead of two stages per table."""
    return run.keep(level.coalesce(1))


def _split_receipts(
    run: BatchRun, days: list[str], fresh: DataFrame | None, receipt_rows: DataFrame | None
) -> DataFrame | None:
    """The receipts on several sale dates or stores, over every published date: a receipt
    may span a recomputed date and a carried-over one, so a partial run reads the
    carried-over dates' lines again (four columns) instead of carrying rows over."""
    parts = [] if fresh is None else [fresh.select(*SPLIT_INPUT)]
    live = run.storage.uri("transactions")
    if not run.full_rebuild and run.files.entries(live):
        old = run.spark.read.parquet(live).select(*SPLIT_INPUT)
        parts.append(old.where(~F.col("sale_date").cast("string").isin(days)))
        receipt_rows = None
    if not parts:
        return None
    return split_receipts(reduce(DataFrame.unionByName, parts), receipt_rows)


def _write_aggregate(run: BatchRun, name: str, table: DataFrame, keys: list[str]) -> str:
    """One sorted Parquet file and one CSV file; returns the CSV file's name."""
    version, file_name = run.version, f"{name}.csv"
    if run.storage.is_local:
        run.spark.sparkContext.setJobDescription(f"batch: aggregate {name}")
        rows = sorted(table.collect(), key=_sort_key(table.columns, keys))
        parquet_name = f"part-00000-{version.run_id}.snappy.parquet"
        small_write.write_parquet(rows, table.schema, version.path(name), parquet_name)
        small_write.write_csv(rows, table.schema, version.path("curated_csv", file_name))
        return file_name
    table.orderBy(*keys).coalesce(1).write.parquet(version.uri(name))
    # The CSV from the (already sorted, single-file) Parquet.
    tmp = version.uri("curated_csv", f"_{name}")
    run.spark.read.parquet(version.uri(name)).coalesce(1).write.csv(tmp, header=True)
    part = next(i for i in run.files.entries(tmp) if i.name.startswith("part-"))
    run.files.rename(part.uri, version.uri("curated_csv", file_name))
    run.files.delete(tmp)
    return file_name


def _sort_key(names: list[str], keys: list[str]) -> Any:
    """Spark's ascending order: NULLs first, then values."""
    index = [names.index(k) for k in keys]

    def key(row: Any) -> tuple:
        return tuple((False, 0) if row[i] is None else (True, row[i]) for i in index)

    return key
