"""Sliding event-time windows, Spark's `window(ts, window, slide)` rule on epoch microseconds."""

from __future__ import annotations

from retailpipe.schemas import ALL_STORES

Key = tuple[int, int, str]  # (window_start_us, window_end_us, store_id)


def windows_of(event_us: int, window_us: int, slide_us: int) -> list[tuple[int, int]]:
    """Every [start, start + window) holding `event_us`, starts on multiples of the slide.

    The same windows as Spark's `F.window(event_ts, window, slide)` with startTime 0
    (tests/stream/test_windows.py checks it against Spark itself).
    """
    last_start = event_us - event_us % slide_us
    return [(s, s + window_us) for s in range(last_start, event_us - window_us, -slide_us)]


def window_keys(event_us: int, store_id: str, window_us: int, slide_us: int) -> list[Key]:
    """The (window, store) and (window, ALL) keys an event counts towards."""
    return [
        (start, end, group)
        for start, end in windows_of(event_us, window_us, slide_us)
        for group in (store_id, ALL_STORES)
    ]
