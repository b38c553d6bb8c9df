"""The plain-reader view of stream/ and stream_late/: one Parquet file per UTC day of
window_start, each replaced whole by an atomic rename (local disk or HDFS, see files.py).

A window key lives in exactly one file, and each file is swapped in one `rename`, so any
Parquet reader listing the folder sees every window exactly once, with either its old or
its new value, never a half-written file. Temp files start with "." and do not end in
".parquet", so readers (pyarrow, Spark, DuckDB globs) skip them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal

import pyarrow as pa

from retailpipe.stream.files import (
    LOCAL,
    Files,
    Location,
    atomic_write,
    read_table,
    table_bytes,
    visible,
)
from retailpipe.stream.windows import Key

UTC = dt.UTC
TS = pa.timestamp("us", tz="UTC")
WINDOW_SCHEMA = pa.schema(
    [
        ("window_start", TS),
        ("window_end", TS),
        ("store_id", pa.string()),
        ("transactions", pa.int64()),
        ("units", pa.int64()),
        ("net_revenue", pa.decimal128(18, 2)),
        ("updated_at", TS),
    ]
)
LATE_SCHEMA = pa.schema(
    [
        ("window_start", TS),
        ("window_end", TS),
        ("store_id", pa.string()),
        ("late_events", pa.int64()),
        ("updated_at", TS),
    ]
)
KEY_NAMES: tuple[str, ...] = ("window_start", "window_end", "store_id")


def _day(start_us: int) -> str:
    return dt.datetime.fromtimestamp(start_us / 1_000_000, UTC).date().isoformat()


def atomic_write_table(path: Location, table: pa.Table, files: Files = LOCAL) -> None:
    """Write `table` to `path` through a hidden temp file and one atomic replace."""
    atomic_write(files, path, table_bytes(table))


def _updates(
    schema: pa.Schema, values: Mapping[Key, tuple[object, ...]], now: dt.datetime
) -> pa.Table:
    """One row per key: window start and end, store_id, the key's values, updated_at."""
    keys = list(values)
    measures = list(zip(*values.values(), strict=True))
    columns = [
        pa.array([k[0] for k in keys], pa.int64()).cast(TS),
        pa.array([k[1] for k in keys], pa.int64()).cast(TS),
        pa.array([k[2] for k in keys], pa.string()),
        *(
            pa.array(column, schema.field(name).type)
            for name, column in zip(schema.names[3:-1], measures, strict=True)
        ),
        pa.array([now] * len(keys), TS),
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _merge_day(files: Files, path: str, updates: pa.Table) -> None:
    """Upsert `updates` into the day file: rows of their keys are replaced, the rest kept."""
    merged = updates
    if files.exists(path):
        old = read_table(files, path, updates.schema)
        keys = updates.select(list(KEY_NAMES))
        kept = old.join(keys, keys=list(KEY_NAMES), join_type="left anti")
        merged = pa.concat_tables([kept.select(updates.schema.names), updates])
    ordered = merged.sort_by([(name, "ascending") for name in KEY_NAMES])
    atomic_write_table(path, ordered, files)


def _publish(
    files: Files,
    folder: Location,
    prefix: str,
    schema: pa.Schema,
    values: Mapping[Key, tuple[object, ...]],
    now: dt.datetime,
) -> None:
    by_day: dict[str, dict[Key, tuple[object, ...]]] = {}
    for key, value in values.items():
        by_day.setdefault(_day(key[0]), {})[key] = value
    for day, day_values in sorted(by_day.items()):
        path = files.join(folder, f"{prefix}-{day}.parquet")
        _merge_day(files, path, _updates(schema, day_values, now))


def publish_windows(
    folder: Location,
    values: Mapping[Key, tuple[int, int, Decimal]],
    now: dt.datetime,
    files: Files = LOCAL,
) -> None:
    """Upsert (transactions, units, net_revenue) per window key into the day files."""
    _publish(files, folder, "windows", WINDOW_SCHEMA, values, now)


def publish_late(
    folder: Location, counts: Mapping[Key, int], now: dt.datetime, files: Files = LOCAL
) -> None:
    """Upsert cumulative late-event counts per window key into the day files."""
    values = {key: (count,) for key, count in counts.items()}
    _publish(files, folder, "late", LATE_SCHEMA, values, now)


def has_parquet(folders: Iterable[Location], files: Files = LOCAL) -> bool:
    """True when any of `folders` already holds visible Parquet files."""
    return any(
        name.endswith(".parquet") and visible(name)
        for folder in folders
        for name in files.names(folder)
    )
