"""Sliding event-time windows per store and for all stores (`store_id` = ALL)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retailpipe.schemas import ALL_STORES, MONEY_SUM

WINDOW_KEY: tuple[str, ...] = ("window_start", "window_end", "store_id")
# Per-batch partial aggregates: the receipt ids stay a set so that batches merge exactly.
PARTIAL_COLUMNS: tuple[str, ...] = (
    *WINDOW_KEY,
    "transaction_ids",
    "units",
    "net_revenue",
)
LATE_COLUMNS: tuple[str, ...] = (*WINDOW_KEY, "late_events")


def _windowed(events: DataFrame, window: str, slide: str) -> DataFrame:
    """One row per (event, window containing it, store key): the store and ALL."""
    store_keys = F.array(F.col("store_id"), F.lit(ALL_STORES))
    return events.select(
        "*",
        F.window(F.col("event_ts"), window, slide).alias("w"),
        F.explode(store_keys).alias("store_key"),
    ).select(
        F.col("w.start").alias("window_start"),
        F.col("w.end").alias("window_end"),
        F.col("store_key").alias("store_id"),
        *[F.col(c) for c in events.columns if c != "store_id"],
    )


def window_partials(events: DataFrame, window: str, slide: str) -> DataFrame:
    """Receipt-id sets, units and net revenue per (window, store) for valid events."""
    return (
        _windowed(events, window, slide)
        .groupBy(*WINDOW_KEY)
        .agg(
            F.collect_set("transaction_id").alias("transaction_ids"),
            F.sum(F.col("quantity").cast("long")).alias("units"),
            F.sum("net_amount").cast(MONEY_SUM).alias("net_revenue"),
        )
        .select(*PARTIAL_COLUMNS)
    )


def window_counts(events: DataFrame, window: str, slide: str) -> DataFrame:
    """How many events fall in each (window, store); used for the late-event side output."""
    return (
        _windowed(events, window, slide)
        .groupBy(*WINDOW_KEY)
        .agg(F.count(F.lit(1)).alias("late_events"))
        .select(*LATE_COLUMNS)
    )
