"""The foreachBatch sink: publish what one micro-batch of the stateful step changed.

The windows, de-duplication and lateness run on the executors (processor.py); what reaches
the driver is bounded by the batch's stores and windows, never by its valid events: the
changed windows' new values, the late events per window, one clock row per store that had
events, and the batch's dead letters (one row each). The sink writes them for plain Parquet readers.

Replays are harmless. Spark re-runs a batch that crashed before its commit from the same
offsets and the same state store version, so the processor emits the same rows again:
window and store rows are absolute values (an upsert of the same value), dead letters go to
a file named after the batch, and late counts are added once per batch (see publish_late).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame

from retailpipe.fs import LOCAL, Files, Location, visible
from retailpipe.pause import STREAM_MID_PUBLISH, pause_at
from retailpipe.schemas import ALL_STORES
from retailpipe.stream.publish import (
    LATE_SCHEMA,
    STORE_SCHEMA,
    TS,
    WINDOW_SCHEMA,
    atomic_write_table,
    publish_late,
    publish_stores,
    publish_windows,
    read_stores,
)
from retailpipe.transforms.events import DEAD_LETTER_COLUMNS

log = logging.getLogger(__name__)
UTC = dt.UTC
TOTALS: tuple[str, ...] = ("events", "late_events", "duplicates")


@dataclass(frozen=True)
class SinkPaths:
    """Where the sink writes, and the file system those locations are on."""

    windows: Location
    late: Location
    stores: Location
    dead_letter: Location
    files: Files = field(default=LOCAL, compare=False)


@dataclass(frozen=True)
class BatchReport:
    """What one micro-batch did; logged and recorded in the run manifest."""

    batch_id: int
    output_rows: int
    duration_ms: int
    stores: int
    windows: int
    late_events: int
    dead_letter_events: int
    phases_ms: dict[str, int] = field(default_factory=dict)  # collect, publish

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "output_rows": self.output_rows,
            "duration_ms": self.duration_ms,
            "stores": self.stores,
            "windows": self.windows,
            "late_events": self.late_events,
            "dead_letter_events": self.dead_letter_events,
            **{f"{phase}_ms": ms for phase, ms in self.phases_ms.items()},
        }


@dataclass
class StreamTotals:
    """The stream's cumulative figures across runs of one checkpoint, and its watermarks."""

    events: int = 0
    late_events: int = 0
    duplicates: int = 0
    dead_letter_events: int = 0
    stores: int = 0
    watermark: str | None = None  # the lowest store watermark: ALL windows before it are final
    max_watermark: str | None = None  # the most advanced store's

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def totals_of(stores: pa.Table, dead_letter_events: int) -> StreamTotals:
    """Sum the stores' published counts; the lowest and highest store watermark."""
    if not stores.num_rows:
        return StreamTotals(dead_letter_events=dead_letter_events)
    sums = {name: int(pc.sum(stores[name]).as_py() or 0) for name in TOTALS}
    return StreamTotals(
        **sums,
        dead_letter_events=dead_letter_events,
        stores=stores.num_rows,
        watermark=iso(pc.min(stores["watermark"]).as_py()),
        max_watermark=iso(pc.max(stores["watermark"]).as_py()),
    )


class PhaseClock:
    """Milliseconds spent in each named phase of a batch, for the report."""

    def __init__(self) -> None:
        self.ms: dict[str, int] = {}
        self._last = time.monotonic()

    def lap(self, phase: str) -> None:
        """Charge the time since the previous lap to `phase`."""
        now = time.monotonic()
        self.ms[phase] = self.ms.get(phase, 0) + int((now - self._last) * 1000)
        self._last = now


def _us(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column.cast(pa.int64()).cast(TS)


def _kind(table: pa.Table, kind: str) -> pa.Table:
    return table.filter(pc.equal(table["kind"], kind))


def window_updates(windows: pa.Table, now: dt.datetime) -> pa.Table:
    """The processor's window rows as `WINDOW_SCHEMA` rows (net cents -> DECIMAL(18,2))."""
    cents = windows["net_cents"].cast(pa.decimal128(20, 0))
    revenue = pc.divide(cents, pa.scalar(100, pa.decimal128(3, 0)))
    return pa.table(
        {
            "window_start": _us(windows["window_start_us"]),
            "window_end": _us(windows["window_end_us"]),
            "store_id": windows["store_id"],
            "transactions": windows["transactions"],
            "units": windows["units"],
            "net_revenue": revenue.cast(pa.decimal128(18, 2)),
            "updated_at": pa.repeat(pa.scalar(now, TS), windows.num_rows),
        },
        schema=WINDOW_SCHEMA,
    )


def late_increments(late: pa.Table, now: dt.datetime) -> pa.Table:
    """The processor's late rows per store, plus their sums per window as ALL rows."""
    stores = pa.table(
        {
            "window_start": _us(late["window_start_us"]),
            "window_end": _us(late["window_end_us"]),
            "store_id": late["store_id"],
            "late_events": late["late_events"],
        }
    )
    everyone = stores.group_by(["window_start", "window_end"]).aggregate([("late_events", "sum")])
    everyone = pa.table(
        {
            "window_start": everyone["window_start"],
            "window_end": everyone["window_end"],
            "store_id": pa.repeat(pa.scalar(ALL_STORES), everyone.num_rows),
            "late_events": everyone["late_events_sum"],
        }
    )
    rows = pa.concat_tables([stores, everyone])
    return (
        rows.append_column("batch_id", pa.repeat(pa.scalar(-1), rows.num_rows))
        .append_column("updated_at", pa.repeat(pa.scalar(now, TS), rows.num_rows))
        .cast(LATE_SCHEMA)
    )


def store_updates(clocks: pa.Table, now: dt.datetime) -> pa.Table:
    return pa.table(
        {
            "store_id": clocks["store_id"],
            "watermark": _us(clocks["watermark_us"]),
            "max_event_time": _us(clocks["max_event_us"]),
            **{name: clocks[name] for name in TOTALS},
            "updated_at": pa.repeat(pa.scalar(now, TS), clocks.num_rows),
        },
        schema=STORE_SCHEMA,
    )


def dead_letter_count(folder: Location, files: Files = LOCAL) -> int:
    """Dead letters published so far (rows in the batch files; read from their footers)."""
    import pyarrow.parquet as pq

    total = 0
    for name in files.names(folder):
        if name.endswith(".parquet") and visible(name):
            data = files.read_bytes(files.join(folder, name))
            total += pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
    return total


class WindowSink:
    """Callable for `DataStreamWriter.foreachBatch` on the processor's output."""

    def __init__(
        self,
        paths: SinkPaths,
        on_batch: Callable[[BatchReport, StreamTotals], None] | None = None,
    ) -> None:
        self.paths, self.files, self.on_batch = paths, paths.files, on_batch
        self.dead_letters = dead_letter_count(paths.dead_letter, self.files)
        self.stores = read_stores(paths.stores, self.files)  # small: a row per store
        self.totals = totals_of(self.stores, self.dead_letters)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        """Publish micro-batch `batch_id`: rows of `processor.OUTPUT_SCHEMA`."""
        started = time.monotonic()
        clock = PhaseClock()
        # The one Spark job of the batch: Kafka read, checks, the stateful step, and only
        # the changed rows back to the driver.
        table = batch.toArrow()
        clock.lap("collect")
        now = dt.datetime.now(UTC)
        dead = _kind(table, "dead")
        windows, late = _kind(table, "window"), _kind(table, "late")
        clocks = _kind(table, "store")
        self._publish_dead(batch_id, dead)
        if windows.num_rows:
            publish_windows(self.paths.windows, window_updates(windows, now), now, self.files)
            pause_at(STREAM_MID_PUBLISH)
        # Late events, each once (a late row per window counts it in every window it hit).
        late_events = int(pc.sum(clocks["batch_late_events"]).as_py() or 0)
        if late.num_rows:
            increments = late_increments(late, now)
            publish_late(self.paths.late, increments, batch_id, now, self.files)
        if clocks.num_rows:
            self.stores = publish_stores(self.paths.stores, store_updates(clocks, now), self.files)
        self.totals = totals_of(self.stores, self.dead_letters)
        clock.lap("publish")
        report = BatchReport(
            batch_id=batch_id,
            output_rows=table.num_rows,
            duration_ms=int((time.monotonic() - started) * 1000),
            stores=clocks.num_rows,
            windows=windows.num_rows,
            late_events=late_events,
            dead_letter_events=dead.num_rows,
            phases_ms=clock.ms,
        )
        self._log(report)
        if self.on_batch is not None:
            self.on_batch(report, self.totals)

    def _publish_dead(self, batch_id: int, dead: pa.Table) -> None:
        """The batch's dead letters in `batch-<id>.parquet` (a replay rewrites the same file)."""
        if not dead.num_rows:
            return
        path = self.files.join(self.paths.dead_letter, f"batch-{batch_id:012d}.parquet")
        if not self.files.exists(path):
            self.dead_letters += dead.num_rows
        stamps = dead["kafka_timestamp_us"].cast(pa.int64()).cast(TS)
        letters = dead.set_column(
            dead.schema.get_field_index("kafka_timestamp_us"), "kafka_timestamp", stamps
        )
        letters = letters.select(list(DEAD_LETTER_COLUMNS)).append_column(
            "batch_id", pa.repeat(pa.scalar(batch_id, pa.int64()), dead.num_rows)
        )
        atomic_write_table(path, letters, self.files)

    def _log(self, report: BatchReport) -> None:
        log.info(
            "batch %d: %d store(s), %d window(s) changed, late %d, dead letters %d in %.2f s "
            "(%s); watermark %s, events %d",
            report.batch_id,
            report.stores,
            report.windows,
            report.late_events,
            report.dead_letter_events,
            report.duration_ms / 1000,
            ", ".join(f"{phase} {ms} ms" for phase, ms in report.phases_ms.items()),
            self.totals.watermark,
            self.totals.events,
        )
