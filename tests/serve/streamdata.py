"""Stream test data: events, the window Parquet the stream job publishes, and an oracle."""

from __future__ import annotations

import datetime as dt
import os
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from retailpipe.storage import Storage
from tests.serve.curated import write_run

WINDOW = dt.timedelta(hours=1)
SLIDE = dt.timedelta(minutes=5)
UTC = dt.UTC


@dataclass(frozen=True)
class Event:
    time: dt.datetime
    store_id: str
    transaction_id: str
    units: int
    net: Decimal


def make_events(start: dt.datetime, minutes: int, seed: int = 5, stores: int = 4) -> list[Event]:
    rng = random.Random(seed)
    events = []
    for i in range(minutes * 3):
        t = start + dt.timedelta(seconds=rng.randrange(minutes * 60))
        store = f"S{rng.randrange(1, stores + 1):03d}"
        txn = f"T{i // 2:05d}-{store}"
        units = rng.choice([1, 1, 2, 3, -1])
        net = Decimal(rng.randrange(-500, 9000)) / 100 if units > 0 else Decimal("-12.50")
        events.append(Event(t, store, txn, units, net))
    return events


def _floor(t: dt.datetime) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((t - epoch) // SLIDE) * SLIDE


def windows(events: list[Event]) -> pa.Table:
    """Every (window, store) and (window, ALL) the way the stream job aggregates them."""
    cells: dict[tuple[dt.datetime, str], list[Event]] = {}
    for e in events:
        start = _floor(e.time)
        while start > e.time - WINDOW:
            for store in (e.store_id, "ALL"):
                cells.setdefault((start, store), []).append(e)
            start -= SLIDE
    rows = [
        {
            "window_start": start,
            "window_end": start + WINDOW,
            "store_id": store,
            "transactions": len({e.transaction_id for e in members}),
            "units": sum(e.units for e in members),
            "net_revenue": sum((e.net for e in members), Decimal(0)),
            "updated_at": max(e.time for e in events),
        }
        for (start, store), members in sorted(cells.items())
    ]
    ts = pa.timestamp("us", tz="UTC")
    schema = pa.schema(
        [
            ("window_start", ts),
            ("window_end", ts),
            ("store_id", pa.string()),
            ("transactions", pa.int64()),
            ("units", pa.int64()),
            ("net_revenue", pa.decimal128(18, 2)),
            ("updated_at", ts),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _publish(table: pa.Table, directory: Path) -> None:
    """Write a new file under a hidden name, rename it in, then drop the older files."""
    directory.mkdir(parents=True, exist_ok=True)
    old = [p for p in directory.iterdir() if not p.name.startswith((".", "_"))]
    name = f"part-{os.urandom(4).hex()}.parquet"
    pq.write_table(table, directory / f".{name}.tmp")
    os.replace(directory / f".{name}.tmp", directory / name)
    for path in old:
        path.unlink()


def write_stream(storage: Storage, events: list[Event], late: int = 3, dead: int = 2) -> None:
    _publish(windows(events), storage.path("stream"))
    ts = pa.timestamp("us", tz="UTC")
    start = _floor(max(e.time for e in events))
    # Each late event counts in every window it would have fallen in, for S001 and ALL.
    starts = [start - k * SLIDE for k in range(WINDOW // SLIDE)]
    _publish(
        pa.table(
            {
                "window_start": pa.array(starts * 2, ts),
                "window_end": pa.array([s + WINDOW for s in starts] * 2, ts),
                "store_id": ["S001"] * len(starts) + ["ALL"] * len(starts),
                "late_events": pa.array([late] * (2 * len(starts)), pa.int64()),
            }
        ),
        storage.path("stream_late"),
    )
    # Each store's clock as the stream keeps it; S001 had the late events.
    newest = {e.store_id: e.time for e in sorted(events, key=lambda e: e.time)}
    ids = sorted(newest)
    _publish(
        pa.table(
            {
                "store_id": ids,
                "watermark": pa.array([newest[s] - dt.timedelta(minutes=10) for s in ids], ts),
                "max_event_time": pa.array([newest[s] for s in ids], ts),
                "events": pa.array([sum(e.store_id == s for e in events) for s in ids], pa.int64()),
                "late_events": pa.array([late if s == "S001" else 0 for s in ids], pa.int64()),
            }
        ),
        storage.path("stream_stores"),
    )
    _publish(
        pa.table({"raw": ["{bad json"] * dead, "reason": ["malformed_json"] * dead}),
        storage.path("stream_dead_letter"),
    )
    write_run(
        storage,
        {
            "status": "running",
            "updated_at": max(e.time for e in events).isoformat(),
            "watermark": (max(e.time for e in events) - dt.timedelta(minutes=10)).isoformat(),
            "events": len(events),
            "late_events": late,
            "dead_letter_events": dead,
        },
        run_id="20260101T000000Z-abcdef",
        job="stream",
    )


def trailing_window(events: list[Event]) -> tuple[dt.datetime, dt.datetime]:
    """The one-hour window ending at the first 5-minute boundary after the newest event."""
    end = _floor(max(e.time for e in events)) + SLIDE
    return end - WINDOW, end


def in_window(
    events: list[Event], start: dt.datetime, end: dt.datetime, store: str | None = None
) -> list[Event]:
    return [e for e in events if start <= e.time < end and (store is None or e.store_id == store)]
