"""`GET /metrics`: the pipeline's state for Prometheus, from the run manifests; and
`GET /api/stream/reconcile`, batch vs stream for the stream page.

Every value comes from what the commands already publish: the newest `runs/batch-*.json`,
`runs/stream-*.json` and `runs/reconcile-*.json`, and the stream's per-store clocks
(`stream_stores/`, written by the same micro-batch as its manifest). The exposition is
rendered once per change of those files (the Catalog's fingerprints, checked at most every
`serve.refresh_s`), so a scrape costs about what a cached dashboard call does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from retailpipe.reconcile.latest import panel
from retailpipe.reconcile.source import Source
from retailpipe.serve.data import Catalog, catalog

bp = Blueprint("metrics", __name__)

# Manifest keys behind each outcome label.
BATCH_ROWS = {"valid": "valid", "quarantined": "quarantined", "duplicate": "duplicates"}
STREAM_EVENTS = {
    "counted": "events",
    "late": "late_events",
    "duplicate": "duplicates",
    "dead_letter": "dead_letter_events",
}


@bp.get("/metrics")
def metrics() -> Response:
    """The Prometheus text exposition of `families(catalog)`."""
    return Response(exposition(catalog()), content_type=CONTENT_TYPE_LATEST)


def exposition(source: Catalog) -> bytes:
    """The rendered metrics, cached until a manifest or the stores' clocks change."""
    return source.cached(("metrics",), ("runs", "stream_stores"), lambda: render(families(source)))


class _Families(Collector):
    def __init__(self, found: list[GaugeMetricFamily | CounterMetricFamily]) -> None:
        self.found = found

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        return iter(self.found)


def render(found: list[GaugeMetricFamily | CounterMetricFamily]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(found))
    return generate_latest(registry)


def families(source: Catalog) -> list[GaugeMetricFamily | CounterMetricFamily]:
    """Every metric with the values of the newest manifests; a metric whose manifest does
    not exist yet is exposed without samples."""
    return [*_batch(source), *_stream(source), *_reconcile(source)]


def _batch(source: Catalog) -> Iterable[GaugeMetricFamily]:
    succeeded = source.latest_run("batch", "succeeded")
    last = GaugeMetricFamily(
        "retailpipe_batch_last_success_timestamp_seconds",
        "When the newest successful batch run finished (Unix time).",
    )
    rows = GaugeMetricFamily(
        "retailpipe_batch_rows",
        "Rows of the newest successful batch run, by outcome.",
        labels=["outcome"],
    )
    if succeeded:
        _add(last, [], _seconds(succeeded.get("finished_at")))
        counts = succeeded.get("counts") or {}
        for outcome, key in BATCH_ROWS.items():
            _add(rows, [outcome], counts.get(key))
    return [last, rows]


def _stream(source: Catalog) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
    run = source.latest_run("stream")
    events = CounterMetricFamily(
        "retailpipe_stream_events",
        "Events the stream read (all runs of its checkpoint), by outcome.",
        labels=["outcome"],
    )
    last_batch = GaugeMetricFamily(
        "retailpipe_stream_last_batch_timestamp_seconds",
        "When the stream's run manifest was last rewritten after a micro-batch (Unix time).",
    )
    running = GaugeMetricFamily(
        "retailpipe_stream_running", "1 while the newest stream run's status is running."
    )
    watermark = GaugeMetricFamily(
        "retailpipe_stream_watermark_timestamp_seconds",
        "Each store's watermark (Unix time): its windows ending before it are final.",
        labels=["store_id"],
    )
    if run:
        for outcome, key in STREAM_EVENTS.items():
            _add(events, [outcome], run.get(key))
        if run.get("last_batch_id") is not None:
            _add(last_batch, [], _seconds(run.get("updated_at")))
        _add(running, [], 1 if run.get("status") == "running" else 0)
    stores = source.table("stream_stores", ["store_id", "watermark"])
    for row in stores.to_pylist() if stores is not None else []:
        if row["watermark"] is not None:
            _add(watermark, [row["store_id"]], row["watermark"].timestamp())
    return [events, last_batch, running, watermark]


def _reconcile(source: Catalog) -> Iterable[GaugeMetricFamily]:
    run = source.latest_run("reconcile")
    unexplained = GaugeMetricFamily(
        "retailpipe_reconcile_unexplained_hours",
        "Store-hours where batch and stream differ with nothing to explain it (newest run).",
    )
    when = GaugeMetricFamily(
        "retailpipe_reconcile_last_run_timestamp_seconds",
        "When the newest reconcile run finished (Unix time).",
    )
    if run:
        _add(unexplained, [], run.get("unexplained_hours"))
        _add(when, [], _seconds(run.get("finished_at")))
    return [unexplained, when]


def _add(family: GaugeMetricFamily | CounterMetricFamily, labels: list[str], value: Any) -> None:
    """Add a sample when the manifest has a number for it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        family.add_metric(labels, float(value))


def _seconds(text: Any) -> float | None:
    """A manifest's `2026-01-31T17:05:00Z` as Unix time."""
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@bp.get("/api/stream/reconcile")
def stream_reconcile() -> Response:
    """Batch vs stream on the last UTC day both cover (the stream page's panel), cached
    until either path publishes again."""
    source = catalog()
    body = source.cached(
        ("reconcile-panel",), RECONCILE_INPUTS, lambda: panel(Source(source.storage))
    )
    return jsonify(body)


# What the panel is computed from: it is recomputed when any of them changes.
RECONCILE_INPUTS = (
    "transactions",
    "quarantine",
    "stream",
    "stream_late",
    "stream_stores",
    "stream_dead_letter",
    "runs",
)
