"""The foreachBatch sink: one micro-batch of Kafka records -> windows, late counts, dead letters.

Each batch is a pure function of (state version N-1, the batch's Kafka offsets, which
Spark's checkpoint fixes), so a batch replayed after a crash writes the same values again:
published files are upserts of absolute values, and the state version is written last.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retailpipe.stream.files import LOCAL, Files, Location
from retailpipe.stream.publish import atomic_write_table, publish_late, publish_windows
from retailpipe.stream.state import SinkState, WindowValue, load_state, save_state
from retailpipe.stream.windows import KEY_COLUMNS, Key, window_rows
from retailpipe.transforms.events import DEAD_LETTER_COLUMNS, checked_events

log = logging.getLogger(__name__)
UTC = dt.UTC
EVENT_FIELDS: tuple[str, ...] = (
    "event_id",
    "event_us",
    "store_id",
    "transaction_id",
    "quantity",
    "net_amount",
    "partition",
    "offset",
)
COLLECTED_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys((*EVENT_FIELDS, *DEAD_LETTER_COLUMNS)))


@dataclass(frozen=True)
class SinkPaths:
    """Where the sink writes, and the file system those locations are on."""

    state: Location
    windows: Location
    late: Location
    dead_letter: Location
    files: Files = field(default=LOCAL, compare=False)


@dataclass(frozen=True)
class BatchReport:
    """What one micro-batch did; logged and recorded in the run manifest."""

    batch_id: int
    input_rows: int
    duration_ms: int
    watermark: str | None
    state_rows: int
    late_events: int
    dead_letter_events: int
    duplicates: int
    replayed: bool = False
    phases_ms: dict[str, int] = field(default_factory=dict)  # collect, fold, publish, state

    @property
    def rows_per_s(self) -> float:
        return round(self.input_rows / max(self.duration_ms / 1000, 1e-3), 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "input_rows": self.input_rows,
            "rows_per_s": self.rows_per_s,
            "duration_ms": self.duration_ms,
            "watermark": self.watermark,
            "state_rows": self.state_rows,
            "late_events": self.late_events,
            "dead_letter_events": self.dead_letter_events,
            "duplicates": self.duplicates,
            **{f"{phase}_ms": ms for phase, ms in self.phases_ms.items()},
        }


@dataclass
class Fold:
    """One batch folded into the state: counts, and the new values of what changed."""

    events: int = 0
    late_events: int = 0
    duplicates: int = 0
    windows: dict[Key, tuple[int, int, Decimal]] = field(default_factory=dict)
    late: dict[Key, int] = field(default_factory=dict)  # cumulative late events


def iso_us(us: int | None) -> str | None:
    if us is None:
        return None
    moment = dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=us)
    return moment.isoformat().replace("+00:00", "Z")


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


class WindowSink:
    """Callable for `DataStreamWriter.foreachBatch`."""

    def __init__(
        self,
        paths: SinkPaths,
        window_us: int,
        slide_us: int,
        watermark_us: int,
        on_batch: Callable[[BatchReport, SinkState], None] | None = None,
    ) -> None:
        self.paths, self.delay_us = paths, watermark_us
        self.window_us, self.slide_us = window_us, slide_us
        self.on_batch = on_batch
        self.files = paths.files
        self.state = load_state(paths.state, files=self.files)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        """Apply micro-batch `batch_id`, a batch of `checked_records(kafka records)`."""
        started = time.monotonic()
        if batch_id <= self.state.batch_id:
            # Applied before a crash that came ahead of Spark's own commit: nothing to redo.
            self._report(batch_id, started, 0, replayed=True)
            return
        try:
            self._process(batch, batch_id, started)
        except BaseException:
            # Drop half-applied in-memory changes.
            self.state = load_state(self.paths.state, files=self.files)
            raise

    def _process(self, batch: DataFrame, batch_id: int, started: float) -> None:
        clock = PhaseClock()
        # One Spark job per batch, reading the Kafka batch once (see `checked_events`).
        table = batch.toArrow()
        clock.lap("collect")
        is_dead = pc.is_valid(table["reason"])
        dead = table.filter(is_dead)
        events = (
            table.filter(pc.invert(is_dead))
            .sort_by([("partition", "ascending"), ("offset", "ascending")])
            .select(list(EVENT_FIELDS))
        )
        fold = self._apply(batch_id, events)
        clock.lap("fold")
        self._publish(batch_id, dead, fold)
        clock.lap("publish")
        totals = self.state.totals
        totals["events"] += fold.events
        totals["late_events"] += fold.late_events
        totals["dead_letter_events"] += dead.num_rows
        totals["duplicates"] += fold.duplicates
        save_state(self.paths.state, self.state, self.files)
        clock.lap("state")
        self._report(
            batch_id,
            started,
            table.num_rows,
            late=fold.late_events,
            dead=dead.num_rows,
            dups=fold.duplicates,
            phases_ms=clock.ms,
        )

    def _apply(self, batch_id: int, events: pa.Table) -> Fold:
        """Fold the batch's valid events (in Kafka order) into the state; returns what changed."""
        state, mark = self.state, self.state.watermark_us
        fold = Fold()
        late_rows: list[int] = []
        fresh_rows: list[int] = []
        ids, times = events["event_id"].to_pylist(), events["event_us"].to_pylist()
        for row, (event_id, event_us) in enumerate(zip(ids, times, strict=True)):
            if mark is not None and event_us < mark:  # behind the watermark: late
                late_rows.append(row)
            elif event_id in state.seen:  # seen in an earlier batch or earlier in this one
                fold.duplicates += 1
            else:
                state.seen[event_id] = event_us
                fresh_rows.append(row)
        fold.events, fold.late_events = len(fresh_rows), len(late_rows)
        fresh = events.take(pa.array(fresh_rows, pa.int64()))
        late = events.take(pa.array(late_rows, pa.int64()))
        sums = [("transaction_id", "distinct"), ("quantity", "sum"), ("net_amount", "sum")]
        for start, end, store, receipts, units, revenue in self._per_window(fresh, sums):
            value = state.windows.setdefault((start, end, store), WindowValue())
            value.add(receipts, units, revenue)
            fold.windows[(start, end, store)] = value.published()
        for start, end, store, count in self._per_window(late, [("event_id", "count")]):
            key = (start, end, store)
            state.late[key] = fold.late[key] = state.late.get(key, 0) + count
        state.batch_id = batch_id
        # After reading the published values: the watermark evicts the windows it closes.
        max_us = max((times[row] for row in fresh_rows), default=None)
        state.advance_watermark(max_us, self.delay_us)
        return fold

    def _per_window(
        self, events: pa.Table, aggregations: list[tuple[str, str]]
    ) -> Iterator[tuple[Any, ...]]:
        """(window start, end, store_id, *aggregates) for each key the events count towards."""
        if not events.num_rows:
            return iter(())
        table = (
            window_rows(events, self.window_us, self.slide_us)
            .group_by(list(KEY_COLUMNS))
            .aggregate(aggregations)
        )
        names = [*KEY_COLUMNS, *(f"{column}_{function}" for column, function in aggregations)]
        return zip(*(table[name].to_pylist() for name in names), strict=True)

    def _publish(self, batch_id: int, dead: pa.Table, fold: Fold) -> None:
        """Dead letters, changed windows and late counts, each file replaced atomically."""
        if dead.num_rows:
            dead_letters = dead.select(list(DEAD_LETTER_COLUMNS)).append_column(
                "batch_id", pa.array([batch_id] * dead.num_rows, pa.int64())
            )
            path = self.files.join(self.paths.dead_letter, f"batch-{batch_id:012d}.parquet")
            atomic_write_table(path, dead_letters, self.files)
        now = dt.datetime.now(UTC)
        publish_windows(self.paths.windows, fold.windows, now, self.files)
        if fold.late:
            publish_late(self.paths.late, fold.late, now, self.files)

    def _report(
        self,
        batch_id: int,
        started: float,
        rows: int,
        *,
        late: int = 0,
        dead: int = 0,
        dups: int = 0,
        replayed: bool = False,
        phases_ms: dict[str, int] | None = None,
    ) -> None:
        report = BatchReport(
            batch_id=batch_id,
            input_rows=rows,
            duration_ms=int((time.monotonic() - started) * 1000),
            watermark=iso_us(self.state.watermark_us),
            state_rows=self.state.state_rows(),
            late_events=late,
            dead_letter_events=dead,
            duplicates=dups,
            replayed=replayed,
            phases_ms=phases_ms or {},
        )
        log.info(
            "batch %d: %d rows in %.2f s (%.0f rows/s), watermark %s, state rows %d, "
            "late %d, dead letters %d, duplicates %d%s%s",
            batch_id,
            rows,
            report.duration_ms / 1000,
            report.rows_per_s,
            report.watermark,
            report.state_rows,
            late,
            dead,
            dups,
            " (already applied)" if replayed else "",
            "".join(f", {phase} {ms} ms" for phase, ms in report.phases_ms.items()),
        )
        if self.on_batch is not None:
            self.on_batch(report, self.state)


def checked_records(kafka: DataFrame) -> DataFrame:
    """What the sink collects from each micro-batch: every record once, checked.

    `run.start_query` applies it to the streaming DataFrame once, before `foreachBatch`,
    so no batch pays for building this plan through py4j again (about as long as running
    it on a batch of a few thousand records).
    """
    return (
        checked_events(kafka)
        .withColumn("event_us", F.unix_micros("event_ts"))
        .select(*COLLECTED_COLUMNS)
    )
