"""Sliding event-time windows, Spark's `window(ts, window, slide)` rule on epoch microseconds."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from retailpipe.schemas import ALL_STORES

Key = tuple[int, int, str]  # (window_start_us, window_end_us, store_id)
KEY_COLUMNS: tuple[str, ...] = ("window_start_us", "window_end_us", "store_id")


def windows_of(event_us: int, window_us: int, slide_us: int) -> list[tuple[int, int]]:
    """Every [start, start + window) holding `event_us`, starts on multiples of the slide.

    The same windows as Spark's `F.window(event_ts, window, slide)` with startTime 0
    (tests/stream/test_windows.py checks it against Spark itself).
    """
    last_start = event_us - event_us % slide_us
    return [(s, s + window_us) for s in range(last_start, event_us - window_us, -slide_us)]


def window_rows(events: pa.Table, window_us: int, slide_us: int) -> pa.Table:
    """`events` (with `event_us` and `store_id`) once per key it counts towards.

    Adds `window_start_us` and `window_end_us` and repeats each row with `store_id` ALL:
    the same keys as `window_keys`, for a whole batch in a few Arrow operations.
    """
    event_us = events["event_us"]
    # Python's % floors like Spark's window rule, also before 1970.
    last_start = pa.array([us - us % slide_us for us in event_us.to_pylist()], pa.int64())
    per_window = []
    for k in range(-(-window_us // slide_us)):  # at most ceil(window / slide) windows
        start = pc.subtract(last_start, k * slide_us)
        holds = pc.greater(start, pc.subtract(event_us, window_us))
        per_window.append(events.append_column("window_start_us", start).filter(holds))
    rows = pa.concat_tables(per_window)
    rows = rows.append_column("window_end_us", pc.add(rows["window_start_us"], window_us))
    store = rows.schema.get_field_index("store_id")
    everyone = rows.set_column(
        store, "store_id", pa.repeat(pa.scalar(ALL_STORES, pa.string()), rows.num_rows)
    )
    return pa.concat_tables([rows, everyone])
