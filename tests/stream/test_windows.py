"""The stateful step's window rule agrees with Spark's own `F.window`."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from pyspark.sql import functions as F

from retailpipe.stream.processor import window_starts

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
    per_k = window_starts(np.array(stamps) * US, window_s * US, slide_s * US)
    for i, stamp in enumerate(stamps):
        ours = {(int(s[i]), int(s[i]) + window_s * US) for s in per_k if s[i] != -1}
        assert ours == expected[stamp]
