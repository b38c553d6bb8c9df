"""The plain-reader view of stream/ and stream_late/: one Parquet file per UTC day of
window_start, each replaced whole by an atomic rename (local disk or HDFS, see files.py).

A window key lives in exactly one file, and each file is swapped in one `rename`, so any
Parquet reader listing the folder sees every window exactly once, with either its old or
its new value, never a half-written file. Temp files start with "." and do not end in
".parquet", so readers (pyarrow, Spark, DuckDB globs) skip them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from retailpipe.fs import (
    LOCAL,
    Files,
    Location,
    atomic_write,
    read_table,
    table_bytes,
    visible,
)
from retailpipe.schemas import ALL_STORES

UTC = dt.UTC
TS = pa.timestamp("us", tz="UTC")
# A window key: the window's bounds and the store (or ALL).
KEY_FIELDS: list[tuple[str, pa.DataType]] = [
    ("window_start", TS),
    ("window_end", TS),
    ("store_id", pa.string()),
]
WINDOW_SCHEMA = pa.schema(
    [
        *KEY_FIELDS,
        ("transactions", pa.int64()),
        ("units", pa.int64()),
        ("net_revenue", pa.decimal128(18, 2)),
        ("updated_at", TS),
    ]
)
# `batch_id`: the last micro-batch counted in `late_events`; a replayed batch adds nothing.
LATE_SCHEMA = pa.schema(
    [
        *KEY_FIELDS,
        ("late_events", pa.int64()),
        ("batch_id", pa.int64()),
        ("updated_at", TS),
    ]
)
STORE_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("watermark", TS),
        ("max_event_time", TS),
        ("events", pa.int64()),
        ("late_events", pa.int64()),
        ("duplicates", pa.int64()),
        ("updated_at", TS),
    ]
)
KEY_NAMES: tuple[str, ...] = tuple(name for name, _ in KEY_FIELDS)
WINDOW_NAMES: tuple[str, ...] = ("window_start", "window_end")
MEASURES: tuple[str, ...] = ("transactions", "units", "net_revenue")
STORES_FILE = "stores.parquet"


def atomic_write_table(path: Location, table: pa.Table, files: Files = LOCAL) -> None:
    """Write `table` to `path` through a hidden temp file and one atomic replace."""
    atomic_write(files, path, table_bytes(table))


def _by_day(table: pa.Table) -> dict[str, pa.Table]:
    """`table`'s rows per UTC day of `window_start`."""
    days = pc.strftime(table["window_start"], format="%Y-%m-%d")
    return {day: table.filter(pc.equal(days, day)) for day in pc.unique(days).to_pylist()}


def _upsert(old: pa.Table | None, updates: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """`old` with the rows of `updates`' keys replaced by `updates`."""
    if old is None:
        return updates
    kept = old.join(updates.select(list(keys)), keys=list(keys), join_type="left anti")
    return pa.concat_tables([kept.select(updates.schema.names), updates])


def _all_stores(rows: pa.Table, changed: pa.Table, now: dt.datetime) -> pa.Table:
    """The ALL row of each window in `changed`: the sum of its stores' rows in `rows`.

    A receipt belongs to one store, so distinct receipt counts add up too."""
    stores = rows.filter(pc.not_equal(rows["store_id"], ALL_STORES))
    wanted = changed.select(list(WINDOW_NAMES)).group_by(list(WINDOW_NAMES)).aggregate([])
    sums = (
        stores.join(wanted, keys=list(WINDOW_NAMES), join_type="left semi")
        .group_by(list(WINDOW_NAMES))
        .aggregate([(name, "sum") for name in MEASURES])
    )
    return pa.table(
        {
            "window_start": sums["window_start"],
            "window_end": sums["window_end"],
            "store_id": pa.repeat(pa.scalar(ALL_STORES), sums.num_rows),
            **{name: sums[f"{name}_sum"].cast(WINDOW_SCHEMA.field(name).type) for name in MEASURES},
            "updated_at": pa.repeat(pa.scalar(now, TS), sums.num_rows),
        },
        schema=WINDOW_SCHEMA,
    )


def _read(files: Files, path: str, schema: pa.Schema) -> pa.Table | None:
    return read_table(files, path, schema) if files.exists(path) else None


def publish_windows(
    folder: Location, updates: pa.Table, now: dt.datetime, files: Files = LOCAL
) -> None:
    """Upsert the stores' new window values (`WINDOW_SCHEMA` rows, no ALL) into the day files,
    with the ALL row of every changed window recomputed from its stores' rows."""
    for day, day_updates in sorted(_by_day(updates).items()):
        path = files.join(folder, f"windows-{day}.parquet")
        merged = _upsert(_read(files, path, WINDOW_SCHEMA), day_updates, KEY_NAMES)
        everyone = _all_stores(merged, day_updates, now)
        merged = _upsert(merged, everyone, KEY_NAMES)
        ordered = merged.sort_by([(name, "ascending") for name in KEY_NAMES])
        atomic_write_table(path, ordered, files)


def publish_late(
    folder: Location,
    increments: pa.Table,
    batch_id: int,
    now: dt.datetime,
    files: Files = LOCAL,
) -> None:
    """Add batch `batch_id`'s late events per window (`window_start`, `window_end`,
    `store_id`, `late_events`, ALL rows included) to the cumulative counts in the day files.

    A row already marked with this batch (a batch replayed after a crash) is left as is."""
    for day, day_increments in sorted(_by_day(increments).items()):
        path = files.join(folder, f"late-{day}.parquet")
        old = _read(files, path, LATE_SCHEMA)
        counts = {
            (r["window_start"], r["window_end"], r["store_id"]): r
            for r in (old.to_pylist() if old is not None else [])
        }
        for row in day_increments.to_pylist():
            key = (row["window_start"], row["window_end"], row["store_id"])
            before = counts.get(key)
            if before is not None and before["batch_id"] >= batch_id:
                continue
            total = row["late_events"] + (before["late_events"] if before else 0)
            counts[key] = {**row, "late_events": total, "batch_id": batch_id, "updated_at": now}
        rows = [counts[key] for key in sorted(counts)]
        atomic_write_table(path, pa.Table.from_pylist(rows, schema=LATE_SCHEMA), files)


def publish_stores(folder: Location, updates: pa.Table, files: Files = LOCAL) -> pa.Table:
    """Upsert the stores' clocks and counts (`STORE_SCHEMA`); returns every store's row."""
    path = files.join(folder, STORES_FILE)
    merged = _upsert(_read(files, path, STORE_SCHEMA), updates, ("store_id",))
    merged = merged.sort_by([("store_id", "ascending")])
    atomic_write_table(path, merged, files)
    return merged


def read_stores(folder: Location, files: Files = LOCAL) -> pa.Table:
    """Every store's published clock and counts (empty before the first batch)."""
    table = _read(files, files.join(folder, STORES_FILE), STORE_SCHEMA)
    return table if table is not None else STORE_SCHEMA.empty_table()


def has_parquet(folders: Iterable[Location], files: Files = LOCAL) -> bool:
    """True when any of `folders` already holds visible Parquet files."""
    return any(
        name.endswith(".parquet") and visible(name)
        for folder in folders
        for name in files.names(folder)
    )
