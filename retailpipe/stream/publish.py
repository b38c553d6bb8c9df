"""The plain-reader view of stream/ and stream_late/: one Parquet file per UTC day of
window_start, each replaced whole by an atomic rename.

A window key lives in exactly one file, and each file is swapped in one `rename`, so any
Parquet reader listing the folder sees every window exactly once, with either its old or
its new value, never a half-written file. Temp files start with "." and do not end in
".parquet", so readers (pyarrow, Spark, DuckDB globs) skip them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

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


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write `table` to `path` through a hidden temp file and one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _merge_day(path: Path, schema: pa.Schema, updates: dict[Key, Row]) -> None:
    rows: dict[Key, Row] = {}
    if path.exists():
        for row in pq.read_table(path, schema=schema).to_pylist():
            key = (_us(row["window_start"]), _us(row["window_end"]), str(row["store_id"]))
            rows[key] = row
    rows.update(updates)
    ordered = [rows[k] for k in sorted(rows)]
    atomic_write_table(path, pa.Table.from_pylist(ordered, schema=schema))


def _publish(folder: Path, prefix: str, schema: pa.Schema, updates: dict[Key, Row]) -> None:
    by_day: dict[str, dict[Key, Row]] = {}
    for key, row in updates.items():
        by_day.setdefault(_day(key[0]), {})[key] = row
    for day, rows in sorted(by_day.items()):
        _merge_day(folder / f"{prefix}-{day}.parquet", schema, rows)


def publish_windows(
    folder: Path, values: Mapping[Key, tuple[int, int, Decimal]], now: dt.datetime
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
    _publish(folder, "windows", WINDOW_SCHEMA, updates)


def publish_late(folder: Path, counts: Mapping[Key, int], now: dt.datetime) -> None:
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
    _publish(folder, "late", LATE_SCHEMA, updates)


def has_parquet(folders: Iterable[Path]) -> bool:
    """True when any of `folders` already holds visible Parquet files."""
    return any(folder.is_dir() and any(folder.glob("*.parquet")) for folder in folders)
