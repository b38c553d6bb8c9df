"""Stream dashboard figures from the `stream/` window Parquet and the stream run manifest."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from retailpipe.schemas import ALL_STORES
from retailpipe.serve.data import Catalog
from retailpipe.serve.query import CENT, money

STREAM_DATASETS = (
    "stream",
    "stream_late",
    "stream_stores",
    "stream_dead_letter",
    "runs",
    "stores",
)
WINDOW_COLUMNS = ["window_start", "window_end", "store_id", "transactions", "units", "net_revenue"]


def has_data(catalog: Catalog) -> bool:
    return catalog.version("stream") is not None


def iso(value: dt.datetime | None) -> str | None:
    """A timestamp as ISO 8601 UTC with a Z (naive values are UTC, as Spark writes them)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _windows(catalog: Catalog) -> pa.Table:
    table = catalog.table("stream")
    assert table is not None  # callers check has_data first
    return table


def latest_end(table: pa.Table) -> Any:
    """The end of the newest one-hour window that covers the latest events: the first window
    end after the newest window start (later-ending windows hold only the last few minutes)."""
    totals = table.filter(pc.field("store_id") == ALL_STORES)
    if totals.num_rows == 0:
        totals = table
    newest_start = pc.max(totals["window_start"])
    return pc.min(
        pc.filter(totals["window_end"], pc.greater(totals["window_end"], newest_start))
    ).as_py()


def _window_row(row: dict[str, Any]) -> dict[str, Any]:
    transactions = int(row["transactions"])
    net = Decimal(row["net_revenue"])
    basket = (net / transactions).quantize(CENT, rounding=ROUND_HALF_UP) if transactions else None
    return {
        "window_start": iso(row["window_start"]),
        "window_end": iso(row["window_end"]),
        "store_id": row["store_id"],
        "transactions": transactions,
        "units": int(row["units"]),
        "net_revenue": money(net),
        "avg_basket": money(basket) if basket is not None else None,
    }


def _latest_rows(table: pa.Table) -> list[dict[str, Any]]:
    end = latest_end(table)
    return (
        table.filter(pc.field("window_end") == pa.scalar(end, table["window_end"].type))
        .select(WINDOW_COLUMNS)
        .to_pylist()
    )


def summary(catalog: Catalog) -> dict[str, Any]:
    """KPIs of the latest window, freshness, watermark, late and dead-lettered counts."""

    def compute() -> dict[str, Any]:
        table = _windows(catalog)
        rows = _latest_rows(table)
        total = next((r for r in rows if r["store_id"] == ALL_STORES), None)
        run = catalog.latest_run("stream") or {}
        updated = (
            pc.max(table["updated_at"]).as_py() if "updated_at" in table.column_names else None
        )
        return {
            "latest_window": _window_row(total) if total else None,
            "stores_in_window": sum(1 for r in rows if r["store_id"] != ALL_STORES),
            "updated_at": iso(updated) or run.get("updated_at"),
            "watermark": run.get("watermark"),
            "status": run.get("status"),
            "run_id": run.get("run_id"),
            "events": run.get("events"),
            "late_events": _late_events(catalog, run),
            "dead_letter_events": _dead_letters(catalog, run),
            "event_time": event_time(catalog, table),
            "late_by_store": late_by_store(catalog),
        }

    return catalog.cached(("stream-summary",), STREAM_DATASETS, compute)


def _late_events(catalog: Catalog, run: dict[str, Any]) -> int | None:
    """Late events as the stream counts them per store (`stream_stores/`), else the run's.

    Not the sum of `stream_late/`: there a late event counts once in every window it would
    have fallen in, for its store and for ALL."""
    stores = catalog.table("stream_stores", ["late_events"])
    if stores is None:
        return run.get("late_events")
    return int(pc.sum(stores["late_events"]).as_py() or 0)


def event_time(catalog: Catalog, table: pa.Table) -> dict[str, str | None]:
    """The event-time range the published windows cover: `first` is the start of the earliest
    slide step holding events (the earliest window end minus the slide), `last` the newest
    event time a store has seen (`stream_stores/`), else the latest window's end."""
    totals = table.filter(pc.field("store_id") == ALL_STORES)
    if totals.num_rows == 0:
        totals = table
    ends = sorted(pc.unique(totals["window_end"]).to_pylist())
    if len(ends) > 1:
        slide = min(later - earlier for earlier, later in itertools.pairwise(ends))
    else:  # one window: its events may lie anywhere in it
        slide = ends[0] - pc.min(totals["window_start"]).as_py()
    newest = None
    stores = catalog.table("stream_stores")
    if stores is not None and "max_event_time" in stores.column_names:
        newest = pc.max(stores["max_event_time"]).as_py()
    return {"first": iso(ends[0] - slide), "last": iso(newest or latest_end(table))}


def late_by_store(catalog: Catalog) -> list[dict[str, Any]]:
    """Each store's late events so far (events behind its watermark), most first."""
    stores = catalog.table("stream_stores")
    if stores is None:
        return []
    names = catalog.names("stores", "store_id", "store_name")
    rows = []
    for row in stores.to_pylist():
        if row["store_id"] == ALL_STORES:
            continue
        rows.append(
            {
                "store_id": row["store_id"],
                "store_name": names.get(row["store_id"], row["store_id"]),
                "late_events": int(row.get("late_events") or 0),
                "events": row.get("events"),
                "max_event_time": iso(row.get("max_event_time")),
                "watermark": iso(row.get("watermark")),
            }
        )
    rows.sort(key=lambda r: (-r["late_events"], r["store_id"]))
    return rows


def _dead_letters(catalog: Catalog, run: dict[str, Any]) -> int | None:
    dead = catalog.table("stream_dead_letter")
    if dead is None:
        return run.get("dead_letter_events")
    return dead.num_rows


def leaderboard(catalog: Catalog) -> list[dict[str, Any]]:
    """Stores in the latest window by net revenue (ties by store id)."""

    def compute() -> list[dict[str, Any]]:
        names = catalog.names("stores", "store_id", "store_name")
        rows = [r for r in _latest_rows(_windows(catalog)) if r["store_id"] != ALL_STORES]
        rows.sort(key=lambda r: (-Decimal(r["net_revenue"]), r["store_id"]))
        return [
            {"rank": i, "store_name": names.get(r["store_id"], r["store_id"]), **_window_row(r)}
            for i, r in enumerate(rows, start=1)
        ]

    return catalog.cached(("stream-leaderboard",), STREAM_DATASETS, compute)


def series(catalog: Catalog, hours: int, top: int) -> dict[str, Any]:
    """Rolling one-hour net revenue by window end over the last `hours`: all stores, and the
    `top` stores of the latest window."""

    def compute() -> dict[str, Any]:
        table = _windows(catalog)
        end = latest_end(table)
        end_type = table["window_end"].type
        since = end - dt.timedelta(hours=hours)
        recent = (
            table.filter(
                (pc.field("window_end") <= pa.scalar(end, end_type))
                & (pc.field("window_end") > pa.scalar(since, end_type))
            )
            .select(["window_end", "store_id", "net_revenue"])
            .sort_by("window_end")
        )
        leaders = [r["store_id"] for r in leaderboard(catalog)[:top]]
        names = catalog.names("stores", "store_id", "store_name")
        points: dict[str, list[dict[str, Any]]] = {s: [] for s in [ALL_STORES, *leaders]}
        for row in recent.to_pylist():
            if row["store_id"] in points:
                points[row["store_id"]].append(
                    {"window_end": iso(row["window_end"]), "net_revenue": money(row["net_revenue"])}
                )
        return {
            "hours": hours,
            "total": points[ALL_STORES],
            "stores": [
                {"store_id": s, "store_name": names.get(s, s), "points": points[s]} for s in leaders
            ],
        }

    return catalog.cached(("stream-series", hours, top), STREAM_DATASETS, compute)
