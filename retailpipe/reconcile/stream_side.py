"""The stream's side, read with pyarrow alone (no Spark): the one-hour windows that start on
an hour, the late counts of those windows, each store's watermark and the dead letters."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from retailpipe.errors import InputError
from retailpipe.reconcile.model import HOUR, Figures, Key, Span, floor_hour, hour_of
from retailpipe.reconcile.source import Source
from retailpipe.schemas import ALL_STORES
from retailpipe.stream.publish import LATE_SCHEMA, STORE_SCHEMA, WINDOW_SCHEMA

# The record `retailpipe stream` keeps next to its checkpoint (stream/options.py).
CHECKPOINT_RECORD = "retailpipe-stream.json"
WINDOW_COLUMNS = ["window_start", "window_end", "store_id", "transactions", "units", "net_revenue"]
LATE_COLUMNS = ["window_start", "window_end", "store_id", "late_events"]


@dataclass(frozen=True)
class Geometry:
    """The stream's window and slide, in seconds."""

    window_s: float
    slide_s: float

    def check(self) -> None:
        """Refuse what cannot be compared hour by hour."""
        if self.window_s != HOUR.total_seconds():
            raise InputError(
                f"the stream's windows are {self.window_s:g} s long; reconcile compares "
                "one-hour windows with the batch's hours",
                "run the stream with --window 1h (and --reset), then reconcile",
            )
        if HOUR.total_seconds() % self.slide_s:
            raise InputError(
                f"the stream's slide ({self.slide_s:g} s) does not divide an hour, so no "
                "window starts on every hour",
                "run the stream with a slide that divides an hour (e.g. --slide 5m, --reset)",
            )


@dataclass
class StreamSide:
    """The stream's figures per (store, hour) and what explains a difference."""

    geometry: Geometry
    figures: dict[Key, Figures] = field(default_factory=dict)
    late: Counter[Key] = field(default_factory=Counter)
    dead_letters: Counter[Key] = field(default_factory=Counter)
    unplaced_dead_letters: int = 0
    # Per store: windows ending at or before it are final.
    watermarks: dict[str, dt.datetime] = field(default_factory=dict)
    first_hour: dt.datetime | None = None

    def final_until(self, store_id: str) -> dt.datetime | None:
        """The store's watermark; for a store the stream never counted, the lowest one."""
        if store_id in self.watermarks:
            return self.watermarks[store_id]
        return min(self.watermarks.values(), default=None)


def geometry(source: Source) -> Geometry:
    """The window and slide from the checkpoint's record, else from the last stream run."""
    record = source.location("checkpoints", CHECKPOINT_RECORD)
    if source.files.exists(record):
        options = json.loads(source.files.read_bytes(record)).get("options", {})
        if "window_s" in options and "slide_s" in options:
            return Geometry(float(options["window_s"]), float(options["slide_s"]))
    run = source.latest_run("stream")
    settings = (run or {}).get("settings") or {}
    if "window" not in settings or "slide" not in settings:
        raise InputError(
            f"no stream run under {source.storage.root} (no checkpoint record, no run manifest)",
            "run `retailpipe stream` on this storage root first",
        )
    from retailpipe.stream.options import seconds

    return Geometry(
        seconds(settings["window"], "stream.window"), seconds(settings["slide"], "stream.slide")
    )


def read_stream(source: Source, span: Span) -> StreamSide:
    """The stream's hour windows, late counts and watermarks for the span's UTC days."""
    side = StreamSide(geometry(source))
    side.geometry.check()
    windows = _hour_windows(
        source.read_all(_day_files(source, "stream", span), WINDOW_COLUMNS, WINDOW_SCHEMA)
    )
    for row in windows.to_pylist():
        key = (row["store_id"], row["window_start"])
        side.figures[key] = Figures(row["transactions"], row["units"], row["net_revenue"])
    late = _hour_windows(
        source.read_all(_day_files(source, "stream_late", span), LATE_COLUMNS, LATE_SCHEMA)
    )
    for row in late.to_pylist():
        side.late[(row["store_id"], row["window_start"])] += row["late_events"]
    side.first_hour = read_first_hour(source, side.geometry)
    side.watermarks = read_watermarks(source)
    side.dead_letters, side.unplaced_dead_letters = _dead_letters(source, span)
    return side


def _day_files(source: Source, dataset: str, span: Span) -> list[str]:
    """The day files (`<prefix>-YYYY-MM-DD.parquet`) of the span's days."""
    chosen = []
    for path in source.parquet(dataset):
        stem = path.rsplit("/", 1)[-1].removesuffix(".parquet")
        try:
            day = dt.date.fromisoformat(stem[-10:])
        except ValueError:
            continue
        if span.holds_day(day):
            chosen.append(path)
    return chosen


def _hour_windows(table: pa.Table) -> pa.Table:
    """Store rows (not ALL) of windows one hour long that start on an hour."""
    if not table.num_rows:
        return table
    starts = table["window_start"]
    on_hour = pc.equal(pc.floor_temporal(starts, unit="hour"), starts)
    hour_long = pc.equal(
        pc.subtract(table["window_end"], starts), pa.scalar(HOUR, pa.duration("us"))
    )
    stores = pc.not_equal(table["store_id"], ALL_STORES)
    return table.filter(pc.and_(pc.and_(on_hour, hour_long), stores))


def read_watermarks(source: Source) -> dict[str, dt.datetime]:
    """Each store's watermark, from `stream_stores/`."""
    stores = source.read_all(
        source.parquet("stream_stores"), ["store_id", "watermark"], STORE_SCHEMA
    )
    return {
        row["store_id"]: row["watermark"]
        for row in stores.to_pylist()
        if row["watermark"] is not None
    }


def read_first_hour(source: Source, shape: Geometry | None = None) -> dt.datetime | None:
    """The hour of the stream's first event: the earliest window ends one slide after it."""
    files = source.parquet("stream")
    if not files:
        return None
    geometry_ = shape or geometry(source)
    ends = source.read(files[0], ["window_end"])["window_end"]
    earliest = pc.min(ends).as_py()
    if earliest is None:
        return None
    return floor_hour(earliest - dt.timedelta(seconds=geometry_.slide_s))


def _dead_letters(source: Source, span: Span) -> tuple[Counter[Key], int]:
    """Dead letters per (store, hour) of their event time; those without either."""
    per_hour: Counter[Key] = Counter()
    unplaced = 0
    for path in source.parquet("stream_dead_letter"):
        for value in source.read(path, ["value"])["value"].to_pylist():
            key = _place(value)
            if key is None:
                unplaced += 1
            elif span.holds(key[1]):
                per_hour[key] += 1
    return per_hour, unplaced


def _place(value: str | None) -> Key | None:
    try:
        event = json.loads(value or "")
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("store_id"), str):
        return None
    hour = hour_of(event.get("event_time") if isinstance(event.get("event_time"), str) else None)
    return None if hour is None else (event["store_id"], hour)
