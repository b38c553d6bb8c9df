"""The stream's stateful step, run by Spark on the executors: one store's events -> its windows.

`WindowProcessor` is a `transformWithStateInPandas` processor keyed by `store_id`. Each
store's state lives in Spark's state store (RocksDB) and holds:

- `clock`: the store's latest event time, its watermark (latest - delay, never back) and
  its cumulative counts (events counted, late, duplicates);
- `buckets`: a map from bucket start to what the store sold in that bucket: units, net
  cents, the receipt ids and the event ids. A bucket is gcd(window, slide) long, so every
  window is a whole number of buckets: a window's value is the sum of its buckets, and its
  distinct receipt count the size of their receipt-id union. The event ids de-duplicate
  (a repeated event has the same time, so it falls in the same bucket).

An event is late when it is older than its own store's watermark as the previous batches
left it (each store's events sit in one Kafka partition in event-time order, so a
rate-limited catch-up, which advances partitions at different paces, makes no on-time event
late). A bucket is dropped once every window holding it has ended at or before the
watermark; no on-time event can reach it any more.

Per batch and store the processor emits only what changed: the new absolute value of each
window that gained events, the late events per window (an increment), and one `store` row
with the store's clock. Dead letters (keyed apart, see `DEAD_KEY`) pass through untouched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import types as T
from pyspark.sql.streaming.stateful_processor import StatefulProcessor, StatefulProcessorHandle

# Dead letters are grouped under keys of their own (one per Kafka partition), never a store's.
DEAD_KEY = "\u0000dead-letter-"

OUTPUT_SCHEMA = T.StructType(
    [
        T.StructField("kind", T.StringType()),  # window | late | store | dead
        T.StructField("store_id", T.StringType()),
        T.StructField("window_start_us", T.LongType()),
        T.StructField("window_end_us", T.LongType()),
        T.StructField("transactions", T.LongType()),
        T.StructField("units", T.LongType()),
        T.StructField("net_cents", T.LongType()),
        T.StructField("late_events", T.LongType()),  # window: this batch's; store: cumulative
        T.StructField("batch_late_events", T.LongType()),  # store: this batch's late events
        T.StructField("events", T.LongType()),
        T.StructField("duplicates", T.LongType()),
        T.StructField("max_event_us", T.LongType()),
        T.StructField("watermark_us", T.LongType()),
        T.StructField("reason", T.StringType()),
        T.StructField("detail", T.StringType()),
        T.StructField("value", T.StringType()),
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("kafka_timestamp_us", T.LongType()),
    ]
)
OUTPUT_COLUMNS: tuple[str, ...] = tuple(OUTPUT_SCHEMA.names)
DEAD_COLUMNS: tuple[str, ...] = (
    "reason",
    "detail",
    "value",
    "topic",
    "partition",
    "offset",
    "kafka_timestamp_us",
)

CLOCK_SCHEMA = T.StructType(
    [
        T.StructField("max_event_us", T.LongType()),
        T.StructField("watermark_us", T.LongType()),
        T.StructField("events", T.LongType()),
        T.StructField("late_events", T.LongType()),
        T.StructField("duplicates", T.LongType()),
    ]
)
BUCKET_KEY_SCHEMA = T.StructType([T.StructField("bucket_us", T.LongType())])
BUCKET_SCHEMA = T.StructType(
    [
        T.StructField("units", T.LongType()),
        T.StructField("net_cents", T.LongType()),
        T.StructField("receipts", T.ArrayType(T.StringType())),
        T.StructField("event_ids", T.ArrayType(T.StringType())),
    ]
)


class Bucket:
    """What one store sold in one bucket: sums, receipt ids and event ids."""

    __slots__ = ("event_ids", "net_cents", "receipts", "units")

    def __init__(
        self,
        units: int = 0,
        net_cents: int = 0,
        receipts: list[str] | None = None,
        event_ids: list[str] | None = None,
    ) -> None:
        self.units, self.net_cents = units, net_cents
        self.receipts: set[str] = set(receipts or ())
        self.event_ids: set[str] = set(event_ids or ())

    def row(self) -> tuple[int, int, list[str], list[str]]:
        return int(self.units), int(self.net_cents), sorted(self.receipts), sorted(self.event_ids)


def window_starts(event_us: np.ndarray, window_us: int, slide_us: int) -> list[np.ndarray]:
    """Spark's `window(ts, window, slide)` rule: for k = 0, 1, ... the k-th window start of
    each event (start a multiple of the slide, start <= t < start + window), -1 where an
    event has fewer windows. numpy's % floors, like Spark's rule, also before 1970."""
    last_start = event_us - event_us % slide_us
    starts = []
    for k in range(math.ceil(window_us / slide_us)):
        start = last_start - k * slide_us
        starts.append(np.where(start > event_us - window_us, start, -1))
    return starts


def _frame(kind: str, rows: dict[str, Any], length: int) -> pd.DataFrame:
    """An output frame of `length` rows of `kind`: the given columns, None in the others."""
    columns = {name: rows.get(name, [None] * length) for name in OUTPUT_COLUMNS}
    columns["kind"] = [kind] * length
    return pd.DataFrame(columns, columns=list(OUTPUT_COLUMNS))


class WindowProcessor(StatefulProcessor):
    """Sliding event-time windows, de-duplication and lateness for one store at a time."""

    def __init__(self, window_us: int, slide_us: int, delay_us: int) -> None:
        self.window_us, self.slide_us, self.delay_us = window_us, slide_us, delay_us
        self.bucket_us = math.gcd(window_us, slide_us)

    def init(self, handle: StatefulProcessorHandle) -> None:
        self.clock = handle.getValueState("clock", CLOCK_SCHEMA)
        self.buckets = handle.getMapState("buckets", BUCKET_KEY_SCHEMA, BUCKET_SCHEMA)

    def handleInputRows(
        self, key: Any, rows: Iterator[pd.DataFrame], timerValues: Any = None
    ) -> Iterator[pd.DataFrame]:
        (group,) = key
        frame = pd.concat(list(rows), ignore_index=True)
        if group.startswith(DEAD_KEY):
            yield _frame("dead", {c: frame[c].tolist() for c in DEAD_COLUMNS}, len(frame))
            return
        yield from self._store(group, frame)

    def close(self) -> None:
        pass

    def _store(self, store: str, frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
        clock = self.clock.get() if self.clock.exists() else None
        max_us, mark, events, late_total, duplicates = clock or (None, None, 0, 0, 0)
        event_us = frame["event_us"].to_numpy(np.int64)
        is_late = event_us < mark if mark is not None else np.zeros(len(frame), bool)
        late_us = event_us[is_late]
        on_time = frame[~is_late]
        repeated = on_time["event_id"].duplicated().to_numpy()
        fresh = on_time[~repeated]
        fresh_us = fresh["event_us"].to_numpy(np.int64)
        buckets = {int(k[0]): Bucket(*v) for k, v in self.buckets.iterator()}
        stored = set(buckets)
        counted, changed = self._add(buckets, fresh, fresh_us - fresh_us % self.bucket_us)

        if len(late_us):
            yield self._late_rows(store, late_us)
        if changed:
            yield self._window_rows(store, buckets, changed)

        if len(fresh_us):
            batch_max = int(fresh_us.max())
            max_us = batch_max if max_us is None else max(max_us, batch_max)
        if max_us is not None:
            mark = max(mark if mark is not None else max_us - self.delay_us, max_us - self.delay_us)
        self._save(buckets, stored, changed, mark)
        events += counted
        late_total += len(late_us)
        duplicates += len(on_time) - counted
        self.clock.update((max_us, mark, events, late_total, duplicates))
        stats = {
            "store_id": [store],
            "events": [events],
            "late_events": [late_total],
            "batch_late_events": [len(late_us)],
            "duplicates": [duplicates],
            "max_event_us": [max_us],
            "watermark_us": [mark],
        }
        yield _frame("store", stats, 1)

    def _add(
        self, buckets: dict[int, Bucket], fresh: pd.DataFrame, bucket_of: np.ndarray
    ) -> tuple[int, set[int]]:
        """Add events not seen before to their buckets; returns (events added, buckets changed)."""
        fresh = fresh.assign(bucket_us=bucket_of)
        # Only a bucket already in the state can hold one of these events from a past batch.
        old = [start for start in pd.unique(bucket_of).tolist() if buckets.get(start)]
        for start in old:
            seen = (fresh["bucket_us"] == start) & fresh["event_id"].isin(buckets[start].event_ids)
            fresh = fresh[~seen]
        if fresh.empty:
            return 0, set()
        groups = fresh.groupby("bucket_us", sort=False)
        sums = groups.agg(units=("quantity", "sum"), net_cents=("net_cents", "sum"))
        receipts = groups["transaction_id"].unique()
        event_ids = groups["event_id"].agg(list)
        for start, units, cents in zip(
            sums.index.tolist(), sums["units"].tolist(), sums["net_cents"].tolist(), strict=True
        ):
            bucket = buckets.setdefault(start, Bucket())
            # Whole Python ints: a pandas column can arrive as float (say, after concatenating
            # an empty frame), and the state store turns a float in a long field into NULL.
            bucket.units += int(units)
            bucket.net_cents += int(cents)
            bucket.receipts.update(receipts[start])
            bucket.event_ids.update(event_ids[start])
        return len(fresh), set(sums.index.tolist())

    def _save(
        self, buckets: dict[int, Bucket], stored: set[int], changed: set[int], mark: int | None
    ) -> None:
        """Write the changed buckets that stay open; drop the stored ones the watermark closed.

        A bucket is closed once every window holding it has ended at or before the watermark.
        In a catch-up batch most buckets open and close within the batch: they never reach
        the state store."""
        for start in changed | stored:
            closed = mark is not None and start - start % self.slide_us + self.window_us <= mark
            if closed:
                if start in stored:
                    self.buckets.removeKey((start,))
            elif start in changed:
                self.buckets.updateValue((start,), buckets[start].row())

    def _window_rows(
        self, store: str, buckets: dict[int, Bucket], changed: set[int]
    ) -> pd.DataFrame:
        """The new value of every window that holds a changed bucket."""
        starts = sorted(
            {
                int(s)
                for per_k in window_starts(np.array(sorted(changed)), self.window_us, self.slide_us)
                for s in per_k
                if s != -1
            }
        )
        columns: dict[str, list[Any]] = {
            "window_start_us": [],
            "transactions": [],
            "units": [],
            "net_cents": [],
        }
        for start in starts:
            members = [
                buckets[b]
                for b in range(start, start + self.window_us, self.bucket_us)
                if b in buckets
            ]
            columns["window_start_us"].append(start)
            columns["transactions"].append(len(set().union(*(m.receipts for m in members))))
            columns["units"].append(sum(m.units for m in members))
            columns["net_cents"].append(sum(m.net_cents for m in members))
        columns["window_end_us"] = [s + self.window_us for s in starts]
        columns["store_id"] = [store] * len(starts)
        return _frame("window", columns, len(starts))

    def _late_rows(self, store: str, late_us: np.ndarray) -> pd.DataFrame:
        """This batch's late events counted per window they would have counted towards."""
        starts = np.concatenate(window_starts(late_us, self.window_us, self.slide_us))
        values, counts = np.unique(starts[starts != -1], return_counts=True)
        columns = {
            "store_id": [store] * len(values),
            "window_start_us": values.tolist(),
            "window_end_us": (values + self.window_us).tolist(),
            "late_events": counts.tolist(),
        }
        return _frame("late", columns, len(values))
