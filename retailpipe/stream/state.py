"""The sink's own state, one immutable version per micro-batch: open windows, seen ids, watermark.

Why not Spark's stateful operators: they drop events behind the watermark without telling
anyone, so the late-event counts per window could not be exact. Keeping the (small) state
here, versioned by batch id, makes every micro-batch a pure function of
(state of batch N-1, input of batch N), which is what makes replays after a crash exact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa

from retailpipe.stream.files import LOCAL, Files, Location, read_table, table_bytes
from retailpipe.stream.windows import Key

META = "meta.json"
KEEP_VERSIONS = 3


@dataclass
class WindowValue:
    """A window's running totals; receipt ids are kept while the window is open."""

    transaction_ids: set[str] = field(default_factory=set)
    units: int = 0
    net_revenue: Decimal = Decimal("0.00")

    def add(self, transaction_ids: Iterable[str], units: int, net_revenue: Decimal) -> None:
        """Add a batch's events in this window: their receipt ids and sums."""
        self.transaction_ids.update(transaction_ids)
        self.units += units
        self.net_revenue += net_revenue

    def published(self) -> tuple[int, int, Decimal]:
        """(transactions, units, net revenue): the window's value for readers."""
        return len(self.transaction_ids), self.units, self.net_revenue


@dataclass
class SinkState:
    """Everything one micro-batch needs from the ones before it."""

    batch_id: int = -1
    watermark_us: int | None = None
    max_event_us: int | None = None
    windows: dict[Key, WindowValue] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)  # event_id -> event time (us)
    late: dict[Key, int] = field(default_factory=dict)  # cumulative late events per window
    totals: dict[str, int] = field(
        default_factory=lambda: {
            "events": 0,
            "late_events": 0,
            "dead_letter_events": 0,
            "duplicates": 0,
        }
    )

    def state_rows(self) -> int:
        return len(self.windows) + len(self.seen)

    def advance_watermark(self, batch_max_us: int | None, delay_us: int) -> None:
        """Move the watermark to max event time - delay (never back); evict what it passed."""
        if batch_max_us is not None:
            previous = self.max_event_us
            self.max_event_us = batch_max_us if previous is None else max(previous, batch_max_us)
        if self.max_event_us is None:
            return
        candidate = self.max_event_us - delay_us
        if self.watermark_us is None or candidate > self.watermark_us:
            self.watermark_us = candidate
        mark = self.watermark_us
        self.windows = {k: v for k, v in self.windows.items() if k[1] > mark}
        self.seen = {e: t for e, t in self.seen.items() if t >= mark}


def _version_dir(files: Files, root: Location, batch_id: int) -> str:
    return files.join(root, f"state-{batch_id:012d}")


def latest_version(root: Location, files: Files = LOCAL) -> int | None:
    """The newest fully written state version under `root`, or None."""
    versions = [
        int(name.removeprefix("state-"))
        for name in files.names(root)
        if name.startswith("state-") and name.removeprefix("state-").isdigit()
    ]
    for version in sorted(versions, reverse=True):
        if files.exists(files.join(_version_dir(files, root, version), META)):
            return version
    return None


def load_state(root: Location, batch_id: int | None = None, files: Files = LOCAL) -> SinkState:
    """State version `batch_id` (default: the newest), or an empty state."""
    version = latest_version(root, files) if batch_id is None else batch_id
    if version is None:
        return SinkState()
    folder = _version_dir(files, root, version)
    meta = json.loads(files.read_bytes(files.join(folder, META)))
    windows: dict[Key, WindowValue] = {}
    for row in read_table(files, files.join(folder, "windows.parquet")).to_pylist():
        key = (row["window_start_us"], row["window_end_us"], row["store_id"])
        windows[key] = WindowValue(set(row["transaction_ids"]), row["units"], row["net_revenue"])
    seen_table = read_table(files, files.join(folder, "seen.parquet")).to_pydict()
    late_rows = read_table(files, files.join(folder, "late.parquet")).to_pylist()
    return SinkState(
        batch_id=meta["batch_id"],
        watermark_us=meta["watermark_us"],
        max_event_us=meta["max_event_us"],
        windows=windows,
        seen=dict(zip(seen_table["event_id"], seen_table["event_us"], strict=True)),
        late={
            (r["window_start_us"], r["window_end_us"], r["store_id"]): r["late_events"]
            for r in late_rows
        },
        totals=meta["totals"],
    )


def _tables(state: SinkState) -> dict[str, pa.Table]:
    keys = list(state.windows)
    windows = pa.table(
        {
            "window_start_us": pa.array([k[0] for k in keys], pa.int64()),
            "window_end_us": pa.array([k[1] for k in keys], pa.int64()),
            "store_id": pa.array([k[2] for k in keys], pa.string()),
            "transaction_ids": pa.array(
                [sorted(state.windows[k].transaction_ids) for k in keys], pa.list_(pa.string())
            ),
            "units": pa.array([state.windows[k].units for k in keys], pa.int64()),
            "net_revenue": pa.array(
                [state.windows[k].net_revenue for k in keys], pa.decimal128(18, 2)
            ),
        }
    )
    seen = pa.table(
        {
            "event_id": pa.array(list(state.seen), pa.string()),
            "event_us": pa.array(list(state.seen.values()), pa.int64()),
        }
    )
    late_keys = list(state.late)
    late = pa.table(
        {
            "window_start_us": pa.array([k[0] for k in late_keys], pa.int64()),
            "window_end_us": pa.array([k[1] for k in late_keys], pa.int64()),
            "store_id": pa.array([k[2] for k in late_keys], pa.string()),
            "late_events": pa.array([state.late[k] for k in late_keys], pa.int64()),
        }
    )
    return {"windows": windows, "seen": seen, "late": late}


def save_state(root: Location, state: SinkState, files: Files = LOCAL) -> None:
    """Write state version `state.batch_id`: files into a temp folder, then one atomic rename.

    `meta.json` is written last inside the temp folder, so a version folder without it is
    an interrupted write and is ignored (and replaced).
    """
    final = _version_dir(files, root, state.batch_id)
    if files.exists(files.join(final, META)):
        return
    tmp = files.join(root, f".tmp-{state.batch_id}-{os.getpid()}")
    files.delete(tmp)
    files.mkdirs(tmp)
    for name, table in _tables(state).items():
        files.write_bytes(files.join(tmp, f"{name}.parquet"), table_bytes(table))
    meta: dict[str, Any] = {
        "batch_id": state.batch_id,
        "watermark_us": state.watermark_us,
        "max_event_us": state.max_event_us,
        "totals": state.totals,
    }
    files.write_bytes(files.join(tmp, META), json.dumps(meta).encode())
    files.delete(final)  # a half-renamed leftover without meta.json
    files.rename_dir(tmp, final)
    _prune(files, root, state.batch_id)


def _prune(files: Files, root: Location, newest: int) -> None:
    for name in files.names(root):
        if name.startswith("state-") and name[6:].isdigit():
            if int(name[6:]) <= newest - KEEP_VERSIONS:
                files.delete(files.join(root, name))
        elif name.startswith(".tmp-"):
            files.delete(files.join(root, name))
