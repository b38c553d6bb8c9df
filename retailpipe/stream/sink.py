"""The foreachBatch sink: one micro-batch of Kafka records -> windows, late counts, dead letters.

Each batch is a pure function of (state version N-1, the batch's Kafka offsets, which
Spark's checkpoint fixes), so a batch replayed after a crash writes the same values again:
published files are upserts of absolute values, and the state version is written last.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from retailpipe.stream.publish import atomic_write_table, publish_late, publish_windows
from retailpipe.stream.state import Key, SinkState, WindowValue, load_state, save_state
from retailpipe.transforms.events import dead_letters, parse_events, valid_events
from retailpipe.transforms.windows import window_counts, window_partials

log = logging.getLogger(__name__)
UTC = dt.UTC


@dataclass(frozen=True)
class SinkPaths:
    state: Path
    windows: Path
    late: Path
    dead_letter: Path


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
        }


def iso_us(us: int | None) -> str | None:
    if us is None:
        return None
    moment = dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=us)
    return moment.isoformat().replace("+00:00", "Z")


class WindowSink:
    """Callable for `DataStreamWriter.foreachBatch`."""

    def __init__(
        self,
        paths: SinkPaths,
        window: str,
        slide: str,
        watermark_us: int,
        on_batch: Callable[[BatchReport, SinkState], None] | None = None,
    ) -> None:
        self.paths, self.window, self.slide, self.delay_us = paths, window, slide, watermark_us
        self.on_batch = on_batch
        self.state = load_state(paths.state)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        if batch_id <= self.state.batch_id:
            # Applied before a crash that came ahead of Spark's own commit: nothing to redo.
            self._report(batch_id, started, 0, replayed=True)
            return
        try:
            self._process(batch, batch_id, started)
        except BaseException:
            self.state = load_state(self.paths.state)  # drop half-applied in-memory changes
            raise

    def _process(self, batch: DataFrame, batch_id: int, started: float) -> None:
        # Few Spark jobs per batch: one pass for the counts, one for the new events' ids,
        # one for the window partials; dead letters and late counts only when there are any.
        checked = parse_events(batch).persist()
        fresh: DataFrame | None = None
        try:
            is_valid = F.col("reason").isNull()
            stats = checked.agg(
                F.count(F.lit(1)).alias("rows"),
                F.count(F.when(~is_valid, F.lit(1))).alias("dead"),
                F.count(F.when(is_valid & self._is_late(), F.lit(1))).alias("late"),
            ).first()
            rows, dead, late_n = int(stats["rows"]), int(stats["dead"]), int(stats["late"])
            if dead:
                self._write_dead_letters(checked, batch_id)
            valid = valid_events(checked)
            late, fresh = self._split(valid)
            fresh = fresh.persist()
            fresh_ids = [
                (r.event_id, r.event_us)
                for r in fresh.select("event_id", F.unix_micros("event_ts").alias("event_us"))
                .collect()
            ]
            partials = _collect_partials(window_partials(fresh, self.window, self.slide))
            late_counts = (
                _collect_late(window_counts(late, self.window, self.slide)) if late_n else {}
            )
        finally:
            if fresh is not None:
                fresh.unpersist()
            checked.unpersist()
        duplicates = rows - dead - late_n - len(fresh_ids)
        max_us = max((us for _, us in fresh_ids), default=None)
        self._apply(batch_id, partials, late_counts, fresh_ids, max_us)
        totals = self.state.totals
        totals["events"] += len(fresh_ids)
        totals["late_events"] += late_n
        totals["dead_letter_events"] += dead
        totals["duplicates"] += duplicates
        save_state(self.paths.state, self.state)
        self._report(batch_id, started, rows, late=late_n, dead=dead, dups=duplicates)

    def _is_late(self) -> Column:
        """Older than the watermark the previous batches left (Spark's own rule)."""
        mark = self.state.watermark_us
        return F.unix_micros("event_ts") < F.lit(mark) if mark is not None else F.lit(False)

    def _split(self, valid: DataFrame) -> tuple[DataFrame, DataFrame]:
        """(late events, first sightings of on-time events) against the current watermark."""
        is_late = self._is_late()
        late = valid.filter(is_late)
        on_time = valid.filter(~is_late)
        if self.state.seen:
            ids = pa.table({"event_id": pa.array(list(self.state.seen), pa.string())})
            seen = valid.sparkSession.createDataFrame(ids)
            on_time = on_time.join(F.broadcast(seen), "event_id", "left_anti")
        first = Window.partitionBy("event_id").orderBy("partition", "offset")
        fresh = (
            on_time.withColumn("copy_no", F.row_number().over(first))
            .filter(F.col("copy_no") == 1)
            .drop("copy_no")
        )
        return late, fresh

    def _apply(
        self,
        batch_id: int,
        partials: dict[Key, tuple[list[str], int, Decimal]],
        late_counts: dict[Key, int],
        fresh_ids: list[tuple[str, int]],
        max_us: int | None,
    ) -> None:
        state = self.state
        for key, (ids, units, revenue) in partials.items():
            state.windows.setdefault(key, WindowValue()).add(ids, units, revenue)
        for key, count in late_counts.items():
            state.late[key] = state.late.get(key, 0) + count
        state.seen.update(fresh_ids)
        now = dt.datetime.now(UTC)
        publish_windows(
            self.paths.windows,
            {
                key: (len(v.transaction_ids), v.units, v.net_revenue)
                for key, v in ((k, state.windows[k]) for k in partials)
            },
            now,
        )
        if late_counts:
            publish_late(self.paths.late, {k: state.late[k] for k in late_counts}, now)
        state.batch_id = batch_id
        state.advance_watermark(max_us, self.delay_us)

    def _write_dead_letters(self, checked: DataFrame, batch_id: int) -> None:
        """One file per batch, replaced whole when the batch is replayed."""
        table = dead_letters(checked).withColumn("batch_id", F.lit(batch_id)).toArrow()
        atomic_write_table(self.paths.dead_letter / f"batch-{batch_id:012d}.parquet", table)

    def _report(self, batch_id: int, started: float, rows: int, *, late: int = 0, dead: int = 0,
                dups: int = 0, replayed: bool = False) -> None:
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
        )
        log.info(
            "batch %d: %d rows in %.2f s (%.0f rows/s), watermark %s, state rows %d, "
            "late %d, dead letters %d, duplicates %d%s",
            batch_id, rows, report.duration_ms / 1000, report.rows_per_s, report.watermark,
            report.state_rows, late, dead, dups, " (already applied)" if replayed else "",
        )
        if self.on_batch is not None:
            self.on_batch(report, self.state)


def _collect_partials(df: DataFrame) -> dict[Key, tuple[list[str], int, Decimal]]:
    rows = df.select(
        F.unix_micros("window_start").alias("s"),
        F.unix_micros("window_end").alias("e"),
        "store_id",
        "transaction_ids",
        "units",
        "net_revenue",
    ).collect()
    return {
        (r.s, r.e, r.store_id): (list(r.transaction_ids), int(r.units), r.net_revenue)
        for r in rows
    }


def _collect_late(df: DataFrame) -> dict[Key, int]:
    rows = df.select(
        F.unix_micros("window_start").alias("s"),
        F.unix_micros("window_end").alias("e"),
        "store_id",
        "late_events",
    ).collect()
    return {(r.s, r.e, r.store_id): int(r.late_events) for r in rows}
