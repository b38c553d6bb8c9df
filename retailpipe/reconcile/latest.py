"""The last UTC day both paths cover, and its reconciliation (the stream page's panel)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from retailpipe.errors import InputError
from retailpipe.reconcile.batch_side import COLUMNS, partitions
from retailpipe.reconcile.model import HOUR, Span, floor_hour
from retailpipe.reconcile.run import reconcile
from retailpipe.reconcile.source import Source
from retailpipe.reconcile.stream_side import read_first_hour, read_watermarks

WORST = 10
_EVENT_TS = pa.schema([("event_ts", pa.timestamp("us", tz="UTC"))])


def last_common_day(source: Source) -> dt.date | None:
    """The newest UTC day with an hour both paths cover, from the newest curated partition
    and the stores' watermarks (no full read); None when they do not overlap."""
    batch_last = _batch_last_hour(source)
    stream_first = read_first_hour(source)
    watermarks = read_watermarks(source)
    if batch_last is None or stream_first is None or not watermarks:
        return None
    final = floor_hour(max(watermarks.values())) - HOUR
    last = min(batch_last, final)
    if last < stream_first:
        return None
    return last.date()


def _batch_last_hour(source: Source) -> dt.datetime | None:
    names = partitions(source, Span())
    for name in reversed(names):
        lines = source.read_all(source.parquet("transactions", name), COLUMNS[:1], _EVENT_TS)
        latest = pc.max(lines["event_ts"]).as_py() if lines.num_rows else None
        if latest is not None:
            return floor_hour(latest)
    return None


def panel(source: Source) -> dict[str, Any]:
    """Hours agreeing / explained / unexplained on the last day both paths cover, the
    reasons and the worst hours; nothing is written."""
    try:
        day = last_common_day(source)
    except InputError as exc:  # no stream run yet, or windows reconcile cannot compare
        return {"date": None, "message": exc.message}
    if day is None:
        return {"date": None, "message": "no hour is covered by both batch and stream yet"}
    manifest = reconcile(source, Span(day, day), write=False).manifest
    return {
        "date": day.isoformat(),
        "hours": manifest["hours"],
        "explained_by": manifest["explained_by"],
        "set_aside": manifest["set_aside"],
        "worst": manifest["differences"][:WORST],
    }
