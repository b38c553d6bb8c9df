"""Run a reconciliation: read both sides, compare, write `runs/reconcile-<run_id>.json`."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from retailpipe.errors import InputError, RetailpipeError
from retailpipe.reconcile.batch_side import quarantined, read_batch
from retailpipe.reconcile.compare import REASONS, Comparison, compare
from retailpipe.reconcile.model import Span, iso_hour
from retailpipe.reconcile.source import Source
from retailpipe.reconcile.stream_side import read_stream
from retailpipe.runs import manifest_name, new_run_id, utc_now, write_manifest

log = logging.getLogger(__name__)

# Differences kept in the manifest and the JSON output, the unexplained ones first.
KEEP_DIFFERENCES = 200


class Unexplained(RetailpipeError):
    """Some hours differ between the paths with nothing to explain them."""

    exit_code = 1


@dataclass(frozen=True)
class Reconciliation:
    """The comparison and the manifest that records it."""

    comparison: Comparison
    manifest: dict[str, Any]
    manifest_path: str | None

    @property
    def unexplained_hours(self) -> int:
        return len(self.comparison.unexplained)

    def raise_if_unexplained(self) -> None:
        """The CLI's exit 1: how many hours differ and where to look."""
        unexplained = self.comparison.unexplained
        if not unexplained:
            return
        first = unexplained[0]
        raise Unexplained(
            f"{len(unexplained)} store-hour(s) differ between batch and stream with nothing to "
            f"explain them, the first store {first.store_id} at {iso_hour(first.hour)}",
            "see `retailpipe reconcile --json` (differences) and compare that hour's raw rows, "
            "curated/transactions and stream/ windows",
        )


def reconcile(source: Source, span: Span, *, write: bool = True) -> Reconciliation:
    """Compare the batch's and the stream's figures over `span`; record the run in `runs/`
    unless `write` is False (the dashboard's read-only view)."""
    started, clock = utc_now(), time.monotonic()
    run_id = new_run_id()
    stream = read_stream(source, span)
    batch = read_batch(source, span)
    if batch.first_hour is None:
        raise InputError(
            f"no curated transactions under {source.storage.root}"
            + ("" if span == Span() else f" from {span.first or '...'} to {span.last or '...'}"),
            "run `retailpipe batch` for those days first",
        )
    set_aside, unplaced = quarantined(source, span)
    comparison = compare(batch, stream, set_aside)
    manifest = _manifest(comparison, span, source, run_id, started)
    manifest["duration_s"] = round(time.monotonic() - clock, 3)
    manifest["unplaced"] = {
        "dead_letter": stream.unplaced_dead_letters,
        "quarantined": unplaced,
    }
    manifest["covered"] = {
        "batch_hours": [_hour(batch.first_hour), _hour(batch.last_hour)],
        "stream_first_hour": _hour(stream.first_hour),
        "stream_final_until": {
            store: iso_hour(moment) for store, moment in sorted(stream.watermarks.items())
        },
        "window_s": stream.geometry.window_s,
        "slide_s": stream.geometry.slide_s,
    }
    path = None
    if write:
        path = source.files.join(source.location("runs"), manifest_name("reconcile", run_id))
        write_manifest(source.files, path, manifest)
    log.debug(
        "reconcile: %d store-hour(s) compared, %d differ (%d unexplained) in %.1f s",
        manifest["hours"]["compared"],
        len(comparison.differences),
        len(comparison.unexplained),
        manifest["duration_s"],
    )
    return Reconciliation(comparison, manifest, path)


def _hour(moment: dt.datetime | None) -> str | None:
    return None if moment is None else iso_hour(moment)


def _manifest(
    comparison: Comparison, span: Span, source: Source, run_id: str, started: str
) -> dict[str, Any]:
    hours = {
        name: comparison.total(name) for name in ("compared", "agree", "explained", "unexplained")
    }
    return {
        "job": "reconcile",
        "run_id": run_id,
        "started_at": started,
        "finished_at": utc_now(),
        "status": "succeeded",
        "storage_root": source.storage.root,
        "span": span.as_dict(),
        "hours": hours,
        "unexplained_hours": hours["unexplained"],
        "explained_by": comparison.explained_by(),
        "set_aside": {reason: comparison.set_aside[reason] for reason in REASONS},
        "days": [
            {"date": day.isoformat(), **tally.as_dict()}
            for day, tally in sorted(comparison.days.items())
        ],
        "differences": [diff.as_dict() for diff in comparison.worst(KEEP_DIFFERENCES)],
    }
