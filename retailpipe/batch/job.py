"""The batch job: extract -> cleanse/validate -> de-duplicate -> load, then publish."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from retailpipe.batch import extract, small_write
from retailpipe.batch.fs import HadoopFs
from retailpipe.batch.manifest import write_manifest
from retailpipe.batch.publish import Version, clean_abandoned, publish
from retailpipe.errors import InputError
from retailpipe.progress import progress
from retailpipe.runs import new_run_id, utc_now
from retailpipe.schemas import (
    AGGREGATE_COLUMNS,
    PRODUCT_COLUMNS,
    QUARANTINE_COLUMNS,
    STORE_COLUMNS,
    TRANSACTIONS_COLUMNS,
)
from retailpipe.settings import Settings
from retailpipe.storage import AGGREGATES, Storage
from retailpipe.transforms.aggregates import (
    KEYS,
    aggregate,
    cells,
    one_row_per_transaction,
    receipts,
)
from retailpipe.transforms.cleanse import check, finish, with_attributes
from retailpipe.transforms.duplicates import LOCATION, repeated_keys, repeated_lines

log = logging.getLogger(__name__)

VALID, DUPLICATE = "valid", "duplicate"
STEPS = 6
# Up to this many repeated keys or lines are broadcast; more (a run that reads whole files
# twice) are joined by a shuffle instead, which is slower but needs no driver memory.
BROADCAST_ROWS = 1_000_000
# Session settings for the run. The partitioned writer keeps one open file per sale date
# and task instead of sorting every line by date first (past 64 dates in a task it sorts
# the rest); Spark only does so when the write is not planned with a required ordering.
CONCURRENT_WRITES = {
    "spark.sql.optimizer.plannedWrite.enabled": "false",
    "spark.sql.maxConcurrentOutputFileWriters": "64",
}
RUN_CONF = {**extract.ONE_PARTITION_PER_FILE, **CONCURRENT_WRITES}
# Columns with about one value per line or receipt: a Parquet dictionary for them is built,
# overflows and is thrown away (writing `transactions` costs 25 % less CPU without).
PLAIN_ENCODED = {
    f"parquet.enable.dictionary#{name}": "false"
    for name in ("transaction_id", "event_ts", "timestamp", "customer_id", "source_line")
}


@dataclass
class BatchResult:
    """What the run did; `manifest` is the JSON written to runs/."""

    manifest: dict[str, Any]
    manifest_uri: str
    partitions: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, Any]:
        return self.manifest["counts"]


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timings[step] = round(time.monotonic() - started, 3)


def run_batch(
    spark: SparkSession,
    settings: Settings,
    *,
    dates: tuple[dt.date, dt.date] | None = None,
    input_uri: str | None = None,
) -> BatchResult:
    """Run the batch job over the raw files of `dates` (all when None) and publish it."""
    storage = Storage(settings.storage.root)
    fs = HadoopFs(spark)
    run_id = new_run_id()
    started, clock = utc_now(), time.monotonic()
    manifest: dict[str, Any] = {
        "job": "batch",
        "run_id": run_id,
        "started_at": started,
        "finished_at": None,
        "duration_s": None,
        "status": "failed",
        "spark_version": spark.version,
        "inputs": [],
        "rejected_files": [],
        "counts": {},
        "outputs": {},
        "timings": {},
        "dates": None if dates is None else [d.isoformat() for d in dates],
    }
    version = Version(storage, run_id)
    saved = {key: spark.conf.get(key, None) for key in RUN_CONF}
    held: list[DataFrame] = []  # persisted along the way, released at the end
    try:
        for key, value in RUN_CONF.items():
            spark.conf.set(key, value)
        partitions = _run(spark, fs, settings, storage, version, manifest, dates, input_uri, held)
        manifest["status"] = "succeeded"
    except BaseException as exc:
        manifest["error"] = str(getattr(exc, "message", exc)).splitlines()[0] if str(exc) else ""
        clean_abandoned(fs, storage, run_id)
        _finish(fs, storage, manifest, clock)
        raise
    finally:
        for df in held:
            df.unpersist()
        for key, previous in saved.items():
            if previous is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, previous)
    uri = _finish(fs, storage, manifest, clock)
    return BatchResult(manifest=manifest, manifest_uri=uri, partitions=partitions)


def _finish(fs: HadoopFs, storage: Storage, manifest: dict[str, Any], clock: float) -> str:
    manifest["finished_at"] = utc_now()
    manifest["duration_s"] = round(time.monotonic() - clock, 3)
    return write_manifest(fs, storage, manifest)


def _run(
    spark: SparkSession,
    fs: HadoopFs,
    settings: Settings,
    storage: Storage,
    version: Version,
    manifest: dict[str, Any],
    dates: tuple[dt.date, dt.date] | None,
    input_uri: str | None,
    held: list[DataFrame],
) -> list[str]:
    """The steps of one run; DataFrames it persists are added to `held`."""
    timings: dict[str, float] = manifest["timings"]
    input_uri = input_uri or settings.batch.input
    full_rebuild = dates is None and input_uri is None
    with progress("batch", STEPS, "steps") as bar:
        with _timed(timings, "plan"):
            files = extract.find_inputs(fs, storage, input_uri, dates)
            rows, rejected = _extract(spark, fs, storage, files, settings.batch.aliases)
            manifest["rejected_files"] = rejected
            stores, products = _dimensions(spark, fs, storage)
        bar.advance(1, "read + validate")
        with _timed(timings, "read_validate"):
            # One shuffle, by (sale_date, transaction_id): the repeated keys are counted and
            # the aggregates' per-transaction sums are taken within partitions. The cache
            # leaves out the store and product attributes: they are joined when written.
            checked = finish(
                check(rows, stores, products).repartition("sale_date", "transaction_id"),
                products,
            ).persist(StorageLevel.MEMORY_AND_DISK)
            held.append(checked)
            per_file = _count(checked)
        with _timed(timings, "duplicates"):
            lines, repeats = _drop_repeats(checked, held)
            per_file = _move_repeats(per_file, repeats)
        manifest["inputs"] = _inputs(files, per_file)
        manifest["counts"] = _counts(per_file)
        run_files = {f.name for f in files}
        bar.advance(1, "transactions")
        with _timed(timings, "transactions"):
            had_parts = _has_partitions(fs, storage)
            table = with_attributes(lines, stores, products).select(*TRANSACTIONS_COLUMNS)
            affected = _write_transactions(
                spark, fs, storage, version, table, per_file, run_files, full_rebuild
            )
        bar.advance(1, "quarantine")
        with _timed(timings, "quarantine"):
            _write_quarantine(spark, fs, storage, version, checked, run_files, full_rebuild)
        bar.advance(1, "aggregates")
        with _timed(timings, "aggregates"):
            # Without carried-over rows the written partitions hold exactly these lines.
            cached = lines if (full_rebuild or not had_parts) else None
            csv_names = _write_aggregates(
                spark, fs, storage, version, affected, full_rebuild, cached, held
            )
        bar.advance(1, "publish")
        with _timed(timings, "publish"):
            publish(fs, version, affected, csv_names)
        bar.advance(1)
    outputs = {name: storage.uri(name) for name in ("transactions", *AGGREGATES, "quarantine")}
    outputs["curated_csv"] = storage.uri("curated_csv")
    manifest["outputs"] = outputs
    manifest["partitions_written"] = sorted(affected)
    return sorted(affected)


def _extract(
    spark: SparkSession,
    fs: HadoopFs,
    storage: Storage,
    files: list[extract.InputFile],
    aliases: dict[str, list[str]],
) -> tuple[DataFrame, list[dict[str, Any]]]:
    """Group files by header so each group is parsed with one schema; unmappable files' rows
    are kept for the quarantine."""
    groups: dict[tuple[str, ...], tuple[extract.FileMapping, list[str]]] = {}
    rejected: list[dict[str, Any]] = []
    for file in files:
        header = extract.read_header(fs, file)
        if header is None:
            rejected.append({"file": file.name, "reason": "empty file", "missing_columns": []})
            continue
        mapping = extract.map_header(header, aliases)
        if not mapping.mappable:
            rejected.append(
                {
                    "file": file.name,
                    "reason": "unmappable_file: missing columns " + ", ".join(mapping.missing),
                    "missing_columns": list(mapping.missing),
                }
            )
            log.warning("%s cannot be mapped: missing %s", file.name, ", ".join(mapping.missing))
        groups.setdefault(mapping.header, (mapping, []))[1].append(file.uri)
    scans = {f.uri: extract.scan(f, storage) for f in files}
    frames = []
    for mapping, uris in groups.values():
        for records, quoted in extract.read_records(spark, uris, scans):
            if mapping.mappable:
                frames.append(extract.parse_fields(records, mapping, quoted))
            else:
                frames.append(extract.unmappable_rows(records, mapping.missing))
    if not frames:  # only empty files
        empty = spark.createDataFrame(
            [], "source_uri string, source_file string, line_number long, record string"
        )
        frames.append(extract.parse_fields(empty, extract.map_header(list(extract.CANONICAL), {})))
    return reduce(DataFrame.unionByName, frames), rejected


def _dimensions(spark: SparkSession, fs: HadoopFs, storage: Storage) -> tuple[DataFrame, DataFrame]:
    for name in ("stores", "products"):
        if not fs.exists(storage.uri(name)):
            raise InputError(
                f"the dimension file {storage.uri(name)} is missing",
                "run `retailpipe generate` or copy stores.csv and products.csv into raw/",
            )

    def read(name: str, columns: tuple[str, ...]) -> DataFrame:
        schema = ", ".join(f"{c} string" for c in columns)
        return spark.read.csv(storage.uri(name), header=True, schema=schema, escape='"')

    stores = (
        read("stores", STORE_COLUMNS)
        .select(F.trim("store_id").alias("store_id_d"), "store_name", "city", "region")
        .dropDuplicates(["store_id_d"])
    )
    products = (
        read("products", PRODUCT_COLUMNS)
        .select(
            F.trim("product_id").alias("product_id_d"),
            "product_name",
            "brand",
            F.col("category").alias("product_category"),
        )
        .dropDuplicates(["product_id_d"])
    )
    return stores, products


def _count(checked: DataFrame) -> list[tuple[str, str, str | None, int]]:
    """(file, status, sale_date, rows) for every combination, before duplicates are told
    apart from valid lines: one pass that fills the cache."""
    status = F.coalesce(F.col("reason"), F.lit(VALID)).alias("status")
    rows = checked.groupBy("source_file", status, "sale_date").count().collect()
    return [(r["source_file"], r["status"], _day(r["sale_date"]), int(r["count"])) for r in rows]


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _drop_repeats(
    checked: DataFrame, held: list[DataFrame]
) -> tuple[DataFrame, list[tuple[str, str | None, int]]]:
    """The valid lines without exact repeats of a key, and (file, sale_date, repeats) counts.

    Keys are counted with a hash aggregate within the cached partitions; only the few lines
    of repeated keys are ranked, then left out by a broadcast anti-join, which keeps the
    lines' partitioning for the aggregates.
    """
    valid = checked.where(F.col("reason").isNull())
    keys = repeated_keys(valid).persist()
    held.append(keys)
    key_count = keys.count()
    if key_count == 0:
        return valid, []
    repeats = repeated_lines(valid, _broadcast_if_small(keys, key_count)).persist()
    held.append(repeats)
    counted = repeats.groupBy("source_file", "sale_date").count().collect()
    per_file = [(r["source_file"], _day(r["sale_date"]), int(r["count"])) for r in counted]
    locations = _broadcast_if_small(repeats.select(*LOCATION), sum(n for *_, n in per_file))
    return valid.join(locations, list(LOCATION), "left_anti"), per_file


def _broadcast_if_small(df: DataFrame, rows: int) -> DataFrame:
    return F.broadcast(df) if rows <= BROADCAST_ROWS else df


def _move_repeats(
    per_file: list[tuple[str, str, str | None, int]], repeats: list[tuple[str, str | None, int]]
) -> list[tuple[str, str, str | None, int]]:
    """Counts with each file's repeated lines moved from `valid` to `duplicate`."""
    counts = {(file, status, day): n for file, status, day, n in per_file}
    for file, day, n in repeats:
        counts[(file, VALID, day)] -= n
        counts[(file, DUPLICATE, day)] = counts.get((file, DUPLICATE, day), 0) + n
    return [(file, status, day, n) for (file, status, day), n in counts.items() if n > 0]


def _inputs(files: list[extract.InputFile], per_file: list[tuple[str, str, Any, int]]) -> list:
    rows: dict[str, int] = {f.name: 0 for f in files}
    for name, _status, _date, count in per_file:
        rows[name] = rows.get(name, 0) + count
    return [{"file": f.uri, "rows": rows[f.name]} for f in files]


def _counts(per_file: list[tuple[str, str, Any, int]]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for _file, status, _date, count in per_file:
        by_status[status] = by_status.get(status, 0) + count
    by_reason = {k: v for k, v in sorted(by_status.items()) if k not in (VALID, DUPLICATE)}
    return {
        "rows_read": sum(by_status.values()),
        "valid": by_status.get(VALID, 0),
        "quarantined": sum(by_reason.values()),
        "duplicates": by_status.get(DUPLICATE, 0),
        "by_reason": by_reason,
    }


def _has_partitions(fs: HadoopFs, storage: Storage) -> bool:
    live = storage.uri("transactions")
    return any(i.is_dir and i.name.startswith("sale_date=") for i in fs.list_dir(live))


def _partition(day: str) -> str:
    return f"sale_date={day}"


def _write_transactions(
    spark: SparkSession,
    fs: HadoopFs,
    storage: Storage,
    version: Version,
    table: DataFrame,
    per_file: list[tuple[str, str, Any, int]],
    run_files: set[str],
    full_rebuild: bool,
) -> set[str]:
    """Write the recomputed sale-date partitions of `table` (TRANSACTIONS_COLUMNS) into the
    version; returns their names.

    A partial run recomputes every sale date that gets rows from its files or held rows
    from them before; rows other files contributed to those dates are carried over.
    """
    new_days = {day for _f, status, day, _n in per_file if status == VALID and day}
    live = storage.uri("transactions")
    old_parts = {i.name for i in fs.list_dir(live) if i.is_dir and i.name.startswith("sale_date=")}
    if full_rebuild or not old_parts:
        affected = {_partition(d) for d in new_days} | (old_parts if full_rebuild else set())
    else:
        old = spark.read.parquet(live)
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
        version.uri("transactions")
    )
    return affected


def _write_quarantine(
    spark: SparkSession,
    fs: HadoopFs,
    storage: Storage,
    version: Version,
    checked: DataFrame,
    run_files: set[str],
    full_rebuild: bool,
) -> None:
    rows = checked.where(F.col("reason").isNotNull()).select(
        "source_file", F.col("source_line").alias("line_number"), "reason", "detail", "raw_line"
    )
    live = storage.uri("quarantine")
    if not full_rebuild and fs.list_dir(live):
        old = spark.read.parquet(live).select(*QUARANTINE_COLUMNS)
        rows = rows.unionByName(old.where(~F.col("source_file").isin(sorted(run_files))))
    # One partition sorted within: the same single sorted file as a global sort, without
    # the extra sampling job a range-partitioned orderBy runs.
    (
        rows.repartition(1)
        .sortWithinPartitions("source_file", "line_number")
        .write.parquet(version.uri("quarantine"))
    )


def _write_aggregates(
    spark: SparkSession,
    fs: HadoopFs,
    storage: Storage,
    version: Version,
    affected: set[str],
    full_rebuild: bool,
    cached: DataFrame | None,
    held: list[DataFrame],
) -> list[str]:
    """Each aggregate: recomputed for the affected dates, carried over for other dates;
    Parquet (one file) plus one CSV file.

    `cached`: the (cached) lines when they are exactly what the run wrote to the
    version's partitions (no rows carried over); else the written partitions are read.
    Local roots: each small result is collected and written by pyarrow on the driver.
    Frames persisted here are added to `held`.
    """
    days = sorted(p.removeprefix("sale_date=") for p in affected)
    written = version.uri("transactions")
    fresh = None
    if fs.list_dir(written):
        if cached is not None:
            fresh = cached.select(*_AGGREGATE_INPUT)
        else:
            # Six aggregates read the same few columns: read them from Parquet once.
            fresh = spark.read.parquet(written).select(*_AGGREGATE_INPUT).persist()
            held.append(fresh)
    receipt_rows, unique, cell_rows = None, False, None
    if fresh is not None:
        # Four tables start from one row per receipt, kept while they are computed; when
        # receipts are unique, from the few rows per (sale_date, store, payment, hour).
        receipt_rows = receipts(fresh).persist()
        held.append(receipt_rows)
        unique = one_row_per_transaction(receipt_rows)
        if unique:
            cell_rows = cells(receipt_rows).persist()
            held.append(cell_rows)
    csv_names = []
    for name in AGGREGATES:
        columns = AGGREGATE_COLUMNS[name]
        parts = []
        if fresh is not None:
            parts.append(aggregate(name, fresh, receipt_rows, unique, cell_rows))
        live = storage.uri(name)
        if not full_rebuild and fs.list_dir(live):
            old = spark.read.parquet(live).select(*columns)
            parts.append(old.where(~F.col("sale_date").cast("string").isin(days)))
        if not parts:
            continue
        keys = ["sale_date", *KEYS[name]]
        table = reduce(DataFrame.unionByName, parts)
        if storage.is_local:
            spark.sparkContext.setJobDescription(f"batch: aggregate {name}")
            rows = sorted(table.collect(), key=_sort_key(table.columns, keys))
            file_name = f"part-00000-{version.run_id}.snappy.parquet"
            small_write.write_parquet(rows, table.schema, version.path(name), file_name)
            small_write.write_csv(rows, table.schema, version.path("curated_csv", f"{name}.csv"))
            csv_names.append(f"{name}.csv")
        else:
            table.orderBy(*keys).coalesce(1).write.parquet(version.uri(name))
            csv_names.append(_write_csv(spark, fs, version, name))
    return csv_names


def _sort_key(names: list[str], keys: list[str]) -> Any:
    """Spark's ascending order: NULLs first, then values."""
    index = [names.index(k) for k in keys]

    def key(row: Any) -> tuple:
        return tuple((False, 0) if row[i] is None else (True, row[i]) for i in index)

    return key


_AGGREGATE_INPUT = (
    "sale_date",
    "transaction_id",
    "store_id",
    "category",
    "product_id",
    "payment_method",
    "hour",
    "quantity",
    "gross_amount",
    "discount_amount",
    "net_amount",
)


def _write_csv(spark: SparkSession, fs: HadoopFs, version: Version, name: str) -> str:
    """One CSV file per aggregate, from its (already sorted, single-file) Parquet."""
    tmp = version.uri("curated_csv", f"_{name}")
    spark.read.parquet(version.uri(name)).coalesce(1).write.csv(tmp, header=True)
    part = next(i for i in fs.list_dir(tmp) if i.name.startswith("part-"))
    file_name = f"{name}.csv"
    fs.rename(part.uri, version.uri("curated_csv", file_name))
    fs.delete(tmp)
    return file_name
