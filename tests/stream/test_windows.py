"""The sink's window rule agrees with Spark's own `F.window` and with the test oracle."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from retailpipe.stream.windows import window_rows, windows_of
from tests.stream import oracle

US = 1_000_000


@pytest.mark.parametrize(("window_s", "slide_s"), [(3600, 300), (1800, 60), (600, 600)])
def test_windows_match_spark_window(spark, window_s: int, slide_s: int) -> None:
    rng = random.Random(window_s + slide_s)
    base = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
    stamps = [base + rng.randrange(0, 86400) for _ in range(40)] + [base, base + slide_s - 1]
    df = spark.createDataFrame([(s,) for s in stamps], "s long").select(
        "s", F.timestamp_seconds("s").alias("ts")
    )
    spark_windows = df.select(
        "s", F.window("ts", f"{window_s} seconds", f"{slide_s} seconds").alias("w")
    ).select("s", F.unix_micros("w.start").alias("start"), F.unix_micros("w.end").alias("end"))
    expected: dict[int, set[tuple[int, int]]] = {}
    for row in spark_windows.collect():
        expected.setdefault(row.s, set()).add((row.start, row.end))
    for stamp in stamps:
        assert set(windows_of(stamp * US, window_s * US, slide_s * US)) == expected[stamp]


@pytest.mark.parametrize(("window_s", "slide_s"), [(3600, 300), (600, 420), (300, 300)])
def test_window_rows_match_the_oracle_and_cover_all_stores(window_s: int, slide_s: int) -> None:
    rng = random.Random(window_s * slide_s)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    moments = [base + dt.timedelta(seconds=rng.randrange(-86400, 86400)) for _ in range(50)]
    moments += [base, dt.datetime(1969, 12, 31, 23, 58, 20, tzinfo=dt.UTC)]
    events = pa.table(
        {
            "event_us": pa.array([int(m.timestamp()) * US for m in moments], pa.int64()),
            "store_id": [f"S{i % 3}" for i in range(len(moments))],
            "row": list(range(len(moments))),
        }
    )
    rows = window_rows(events, window_s * US, slide_s * US).to_pylist()
    ours = Counter(
        (r["row"], r["window_start_us"], r["window_end_us"], r["store_id"]) for r in rows
    )
    theirs = Counter(
        (i, int(start.timestamp()) * US, int(end.timestamp()) * US, group)
        for i, moment in enumerate(moments)
        for start, end in oracle.windows_of(moment, window_s, slide_s)
        for group in (f"S{i % 3}", "ALL")
    )
    assert ours == theirs
