"""The stateful step's rules, batch by batch, in PySpark's own processor test harness.

`TwsTester` runs `WindowProcessor.handleInputRows` with in-memory state, one store at a
time, no JVM: the rules (per-store lateness, de-duplication, distinct receipts across
buckets, eviction) are checked here in milliseconds; the same processor runs in Spark
with RocksDB in test_stream_kafka.py. Expected values come from tests/stream/oracle.py.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd
import pytest
from pyspark.sql.streaming.tws_tester import TwsTester

from retailpipe.stream.processor import DEAD_KEY, WindowProcessor, window_starts
from tests.stream import oracle

US = 1_000_000
HOUR, FIVE_MIN, TEN_MIN = 3600, 300, 600
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"2026-01-01T{text}+00:00")


def events(store: str, *lines: tuple[str, str, int, int]) -> pd.DataFrame:
    """(time, receipt, quantity, net cents) per line; event id = receipt + time."""
    return pd.DataFrame(
        {
            "group_key": [store] * len(lines),
            "event_id": [f"{receipt}@{when}" for when, receipt, _, _ in lines],
            "event_us": [int(at(when).timestamp()) * US for when, _, _, _ in lines],
            "transaction_id": [receipt for _, receipt, _, _ in lines],
            "quantity": [quantity for _, _, quantity, _ in lines],
            "net_cents": [cents for _, _, _, cents in lines],
        }
    )


def harness(watermark_s: int = TEN_MIN) -> TwsTester:
    return TwsTester(
        WindowProcessor(HOUR * US, FIVE_MIN * US, watermark_s * US), outputMode="Update"
    )


def rows(out: pd.DataFrame, kind: str) -> list[dict]:
    return out[out["kind"] == kind].to_dict("records")


def windows(out: pd.DataFrame) -> dict[tuple[dt.datetime, dt.datetime], tuple[int, int, int]]:
    return {
        (
            dt.datetime.fromtimestamp(r["window_start_us"] / US, UTC),
            dt.datetime.fromtimestamp(r["window_end_us"] / US, UTC),
        ): (r["transactions"], r["units"], r["net_cents"])
        for r in rows(out, "window")
    }


def expected_windows(*lines: tuple[str, str, int, int]) -> dict:
    """The oracle's window values (in cents) for these lines of one store."""
    table = oracle.oracle_from_rows(
        [
            {
                "transaction_id": receipt,
                "line_no": str(i),
                "timestamp": at(when).isoformat(),
                "store_id": "S",
                "product_id": "P1",
                "payment_method": "card",
                "quantity": str(quantity),
                "unit_price": f"{cents / 100 / quantity:.2f}",
                "discount_pct": "0",
            }
            for i, (when, receipt, quantity, cents) in enumerate(lines, start=1)
        ]
    )
    return {
        (start, end): (receipts, units, int(net * 100))
        for (start, end, store), (receipts, units, net) in table.items()
        if store == "S"
    }


def test_one_batch_gives_every_window_of_its_events() -> None:
    lines = (("12:01:00", "R1", 2, 500), ("12:07:00", "R1", 1, 250), ("12:31:00", "R2", 1, 100))
    out = harness().testInPandas("S1", events("S1", *lines))
    # R1's two lines sit in different 5-minute buckets: still one receipt per window.
    assert windows(out) == expected_windows(*lines)
    (clock,) = rows(out, "store")
    assert clock["events"] == 3 and clock["late_events"] == 0 and clock["duplicates"] == 0


def test_a_later_batch_updates_windows_to_absolute_values() -> None:
    first = (("12:01:00", "R1", 2, 500),)
    second = (("12:02:00", "R1", 1, 250), ("12:06:00", "R2", 1, 100))
    run = harness()
    run.testInPandas("S1", events("S1", *first))
    out = run.testInPandas("S1", events("S1", *second))
    everything = expected_windows(*first, *second)
    changed = windows(out)
    assert changed and all(everything[key] == value for key, value in changed.items())
    # Windows that gained nothing in the second batch are not sent again.
    untouched = {k for k in everything if not any(k[0] <= at(t) < k[1] for t, *_ in second)}
    assert not untouched & set(changed)


def test_float_columns_are_stored_as_whole_numbers() -> None:
    """pandas may hand the processor float columns (an empty chunk concatenated with a full
    one); a float in a long state field becomes NULL in Spark's state store."""
    frame = events("S1", ("12:01:00", "R1", 2, 500), ("12:02:00", "R2", 1, 250))
    frame = frame.astype({"quantity": "float64", "net_cents": "float64"})
    run = harness()
    run.testInPandas("S1", frame)
    (value,) = run.peekMapState("buckets", "S1").values()
    assert value[:2] == (3, 750) and all(type(v) is int for v in value[:2])


def test_duplicates_in_and_across_batches_count_once() -> None:
    line = ("12:00:00", "A", 3, 597)
    run = harness()
    run.testInPandas("S1", events("S1", line))
    out = run.testInPandas("S1", events("S1", line, line))
    assert rows(out, "window") == []  # nothing new
    (clock,) = rows(out, "store")
    assert (clock["events"], clock["duplicates"]) == (1, 2)


def test_lateness_is_judged_by_the_store_own_watermark() -> None:
    """Store S1 has reached 14:00, S2 only 12:00: a rate-limited catch-up. S2's 12:05 is on
    time (a global watermark, 13:50, would call it late); S1's 13:00 is late."""
    run = harness()
    run.testInPandas("S1", events("S1", ("14:00:00", "A", 1, 100)))
    run.testInPandas("S2", events("S2", ("12:00:00", "B", 1, 100)))
    s2 = run.testInPandas("S2", events("S2", ("12:05:00", "C", 1, 100)))
    s1 = run.testInPandas("S1", events("S1", ("13:00:00", "D", 1, 100)))

    assert rows(s2, "late") == [] and rows(s2, "store")[0]["late_events"] == 0
    late = Counter()
    for r in rows(s1, "late"):
        late[dt.datetime.fromtimestamp(r["window_start_us"] / US, UTC)] += r["late_events"]
    expected = Counter(start for start, _ in oracle.windows_of(at("13:00:00"), HOUR, FIVE_MIN))
    assert late == expected
    assert rows(s1, "window") == []
    clock = rows(s1, "store")[0]
    assert clock["late_events"] == 1 and clock["batch_late_events"] == 1
    assert sum(r["late_events"] for r in rows(s1, "late")) == 12  # once per window it hit
    assert clock["watermark_us"] == int(at("13:50:00").timestamp()) * US


def test_the_watermark_is_the_previous_batches_not_this_one() -> None:
    """Within a batch, events are judged against the watermark the earlier batches left."""
    out = harness().testInPandas(
        "S1", events("S1", ("14:00:00", "A", 1, 100), ("12:00:00", "B", 1, 100))
    )
    assert rows(out, "late") == []
    assert rows(out, "store")[0]["events"] == 2


def test_closed_buckets_leave_the_state() -> None:
    run = harness()
    for hour in range(10, 20):
        run.testInPandas("S1", events("S1", (f"{hour}:00:00", f"R{hour}", 1, 100)))
    buckets = run.peekMapState("buckets", "S1")
    mark = at("18:50:00")  # the last event, 19:00, minus the 10-minute delay
    # Only buckets some open window (end > watermark) still holds are kept.
    assert buckets and all(
        dt.datetime.fromtimestamp(key[0] / US, UTC) + dt.timedelta(hours=1) > mark
        for key in buckets
    )
    assert len(buckets) == 2  # 18:00 (its window ends at 19:00) and 19:00


def test_dead_letters_pass_through_untouched() -> None:
    frame = pd.DataFrame(
        {
            "group_key": [f"{DEAD_KEY}0"],
            "reason": ["malformed_json"],
            "detail": ["value is not a JSON object"],
            "value": ["not json"],
            "topic": ["t"],
            "partition": [0],
            "offset": [7],
            "kafka_timestamp_us": [0],
        }
    )
    out = harness().testInPandas(f"{DEAD_KEY}0", frame)
    (dead,) = rows(out, "dead")
    assert (dead["reason"], dead["value"], dead["offset"]) == ("malformed_json", "not json", 7)


@pytest.mark.parametrize(("window_s", "slide_s"), [(3600, 300), (600, 420), (300, 300)])
def test_window_starts_match_the_oracle(window_s: int, slide_s: int) -> None:
    import numpy as np

    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    moments = [base + dt.timedelta(seconds=s) for s in range(-86400, 86400, 4321)]
    moments.append(dt.datetime(1969, 12, 31, 23, 58, 20, tzinfo=UTC))
    stamps = np.array([int(m.timestamp()) * US for m in moments])
    per_k = window_starts(stamps, window_s * US, slide_s * US)
    for i, moment in enumerate(moments):
        ours = {int(starts[i]) for starts in per_k if starts[i] != -1}
        theirs = {int(s.timestamp()) * US for s, _ in oracle.windows_of(moment, window_s, slide_s)}
        assert ours == theirs
