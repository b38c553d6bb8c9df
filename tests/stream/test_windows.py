"""The sink's window rule agrees with Spark's own `F.window` and with the test oracle."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from pyspark.sql import functions as F

from retailpipe.stream.windows import window_keys, windows_of
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


def test_windows_match_the_oracle_and_cover_all_stores() -> None:
    when = dt.datetime(2026, 1, 1, 12, 7, 30, tzinfo=dt.UTC)
    us = int(when.timestamp()) * US
    ours = {(s, e) for s, e, g in window_keys(us, "S1", 3600 * US, 300 * US) if g == "S1"}
    theirs = {
        (int(s.timestamp()) * US, int(e.timestamp()) * US)
        for s, e in oracle.windows_of(when, 3600, 300)
    }
    assert ours == theirs and len(ours) == 12
    groups = {g for *_, g in window_keys(us, "S1", 3600 * US, 300 * US)}
    assert groups == {"S1", "ALL"}
