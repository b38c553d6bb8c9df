"""The batch path's side: curated `transactions` per store and UTC hour, and the rows the
batch set aside (`quarantine`), read with pyarrow (faster than Spark here, see
docs/reconcile.md)."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from retailpipe.reconcile.model import Figures, Key, Span, hour_of
from retailpipe.reconcile.source import Source
from retailpipe.schemas import RAW_INDEX

COLUMNS = ["event_ts", "store_id", "transaction_id", "quantity", "net_amount"]
PARTITION = "sale_date="
# A line's sale date is its local calendar date: at most a day from its UTC date.
LOCAL_DAY_SLACK = dt.timedelta(days=1)


@dataclass
class BatchSide:
    """Figures per (store, hour) and the hours the curated lines cover."""

    figures: dict[Key, Figures] = field(default_factory=dict)
    first_hour: dt.datetime | None = None
    last_hour: dt.datetime | None = None

    def add(self, key: Key, figures: Figures) -> None:
        self.figures[key] = self.figures.get(key, Figures()) + figures
        hour = key[1]
        self.first_hour = hour if self.first_hour is None else min(self.first_hour, hour)
        self.last_hour = hour if self.last_hour is None else max(self.last_hour, hour)


def partitions(source: Source, span: Span) -> list[str]:
    """The `sale_date=` folders that can hold lines of the span's UTC days."""
    chosen = []
    for name in source.names("transactions"):
        if not name.startswith(PARTITION):
            continue
        try:
            day = dt.date.fromisoformat(name[len(PARTITION) :])
        except ValueError:
            continue
        if span.first is not None and day < span.first - LOCAL_DAY_SLACK:
            continue
        if span.last is not None and day > span.last + LOCAL_DAY_SLACK:
            continue
        chosen.append(name)
    return chosen


def read_batch(source: Source, span: Span) -> BatchSide:
    """Receipts, units and net revenue per store and UTC hour of the curated lines whose
    timestamp falls in the span, one partition at a time (memory bounded by a partition;
    a receipt's lines share a timestamp, so distinct receipts add up across partitions)."""
    side = BatchSide()
    for name in partitions(source, span):
        lines = _in_span(
            source.read_all(source.parquet("transactions", name), COLUMNS, _SCHEMA), span
        )
        if not lines.num_rows:
            continue
        for row in _per_hour(lines).to_pylist():
            figures = Figures(
                int(row["transaction_id_count_distinct"]),
                int(row["quantity_sum"]),
                row["net_amount_sum"],
            )
            side.add((row["store_id"], row["hour"]), figures)
    return side


_SCHEMA = pa.schema(
    [
        ("event_ts", pa.timestamp("us", tz="UTC")),
        ("store_id", pa.string()),
        ("transaction_id", pa.string()),
        ("quantity", pa.int32()),
        ("net_amount", pa.decimal128(12, 2)),
    ]
)


def _in_span(lines: pa.Table, span: Span) -> pa.Table:
    start, end = span.start, span.end
    ts = lines["event_ts"]
    if start is not None:
        lines = lines.filter(pc.greater_equal(ts, pa.scalar(start, ts.type)))
        ts = lines["event_ts"]
    if end is not None:
        lines = lines.filter(pc.less(ts, pa.scalar(end, ts.type)))
    return lines


def _per_hour(lines: pa.Table) -> pa.Table:
    hours = pc.floor_temporal(lines["event_ts"], unit="hour")
    return (
        lines.drop_columns(["event_ts"])
        .append_column("hour", hours)
        .group_by(["store_id", "hour"])
        .aggregate(
            [
                ("transaction_id", "count_distinct"),
                ("quantity", "sum"),
                ("net_amount", "sum"),
            ]
        )
    )


def quarantined(source: Source, span: Span) -> tuple[Counter[Key], int]:
    """Quarantined rows per (store, hour) of their raw text, and how many name no store
    or no readable timestamp (a malformed row may still have both in their places)."""
    table = source.read_all(
        source.parquet("quarantine"), ["source_file", "raw_line"], _QUARANTINE_SCHEMA
    )
    per_hour: Counter[Key] = Counter()
    unplaced = 0
    positions = _Positions(source)
    for path, raw in zip(
        table["source_file"].to_pylist(), table["raw_line"].to_pylist(), strict=True
    ):
        key = _place(raw, positions.of(path))
        if key is None:
            unplaced += 1
        elif span.holds(key[1]):
            per_hour[key] += 1
    return per_hour, unplaced


_QUARANTINE_SCHEMA = pa.schema([("source_file", pa.string()), ("raw_line", pa.string())])
_CANONICAL = (RAW_INDEX["store_id"], RAW_INDEX["timestamp"])


class _Positions:
    """Where a raw file's header puts `store_id` and `timestamp`. Lineage names the file
    (`source_file`), read from `raw/`; a file from elsewhere (`batch --input`) or a header
    with other names: the canonical places."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.seen: dict[str | None, tuple[int, int]] = {}

    def of(self, path: str | None) -> tuple[int, int]:
        if path not in self.seen:
            self.seen[path] = self._read(path)
        return self.seen[path]

    def _read(self, name: str | None) -> tuple[int, int]:
        header = self.source.first_line(self.source.location("raw", name)) if name else None
        if not header:
            return _CANONICAL
        names = [column.strip().lower().lstrip("\ufeff") for column in next(_rows([header]))]
        if "store_id" in names and "timestamp" in names:
            return names.index("store_id"), names.index("timestamp")
        return _CANONICAL


def _rows(lines: Iterable[str]) -> Iterator[list[str]]:
    return csv.reader(lines)


def _place(raw: str | None, positions: tuple[int, int]) -> Key | None:
    if not raw:
        return None
    try:
        fields = next(_rows([raw]), [])
    except csv.Error:
        return None
    store_at, time_at = positions
    if len(fields) <= max(store_at, time_at) or not fields[store_at].strip():
        return None
    hour = hour_of(fields[time_at])
    return None if hour is None else (fields[store_at].strip(), hour)
