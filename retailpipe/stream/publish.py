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

from retailpipe.stream.files import LOCAL, Files, Location, atomic_write, read_table, table_bytes
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
Row = dict[str, object]


def _day(start_us: int) -> str:
    return dt.datetime.fromtimestamp(start_us / 1_000_000, UTC).date().isoformat()


EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def _us(value: dt.datetime) -> int:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return (aware - EPOCH) // dt.timedelta(microseconds=1)


def _ts(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


def atomic_write_table(path: Location, table: pa.Table, files: Files = LOCAL) -> None:
    """Write `table` to `path` through a hidden temp file and one atomic replace."""
    atomic_write(files, path, table_bytes(table))


def _merge_day(files: Files, path: str, schema: pa.Schema, updates: dict[Key, Row]) -> None:
    rows: dict[Key, Row] = {}
    if files.exists(path):
        for row in read_table(files, path, schema).to_pylist():
            key = (_us(row["window_start"]), _us(row["window_end"]), str(row["store_id"]))
            rows[key] = row
    rows.update(updates)
    ordered = [rows[k] for k in sorted(rows)]
    atomic_write_table(path, pa.Table.from_pylist(ordered, schema=schema), files)


def _publish(
    files: Files, folder: Location, prefix: str, schema: pa.Schema, updates: dict[Key, Row]
) -> None:
    by_day: dict[str, dict[Key, Row]] = {}
    for key, row in updates.items():
        by_day.setdefault(_day(key[0]), {})[key] = row
    for day, rows in sorted(by_day.items()):
        _merge_day(files, files.join(folder, f"{prefix}-{day}.parquet"), schema, rows)


def publish_windows(
    folder: Location,
    values: Mapping[Key, tuple[int, int, Decimal]],
    now: dt.datetime,
    files: Files = LOCAL,
) -> None:
    """Upsert (transactions, units, net_revenue) per window key into the day files."""
    updates: dict[Key, Row] = {
        key: {
            "window_start": _ts(key[0]),
            "window_end": _ts(key[1]),
            "store_id": key[2],
            "transactions": transactions,
            "units": units,
            "net_revenue": revenue,
            "updated_at": now,
        }
        for key, (transactions, units, revenue) in values.items()
    }
    _publish(files, folder, "windows", WINDOW_SCHEMA, updates)


def publish_late(
    folder: Location, counts: Mapping[Key, int], now: dt.datetime, files: Files = LOCAL
) -> None:
    """Upsert cumulative late-event counts per window key into the day files."""
    updates: dict[Key, Row] = {
        key: {
            "window_start": _ts(key[0]),
            "window_end": _ts(key[1]),
            "store_id": key[2],
            "late_events": count,
            "updated_at": now,
        }
        for key, count in counts.items()
    }
    _publish(files, folder, "late", LATE_SCHEMA, updates)


def has_parquet(folders: Iterable[Location], files: Files = LOCAL) -> bool:
    """True when any of `folders` already holds visible Parquet files."""
    return any(
        name.endswith(".parquet") and not name.startswith((".", "_"))
        for folder in folders
        for name in files.names(folder)
    )
