"""The stream run manifest `runs/stream-<run_id>.json`, rewritten atomically after each batch."""

from __future__ import annotations

from typing import Any

from retailpipe.fs import LOCAL, Files, Location
from retailpipe.runs import manifest_name, new_run_id, utc_now, write_manifest
from retailpipe.stream.sink import BatchReport, StreamTotals

KEEP_BATCHES = 50


class RunManifest:
    """Holds the manifest of one `retailpipe stream` run and rewrites its file on change."""

    def __init__(
        self, runs_dir: Location, topic: str, settings: dict[str, Any], files: Files = LOCAL
    ) -> None:
        self.run_id = new_run_id()
        self.files = files
        self.path = files.join(runs_dir, manifest_name("stream", self.run_id))
        self.data: dict[str, Any] = {
            "job": "stream",
            "run_id": self.run_id,
            "started_at": utc_now(),
            "updated_at": utc_now(),
            "status": "running",
            "topic": topic,
            "batches": [],
            "watermark": None,
            "max_watermark": None,
            "stores": 0,
            "last_batch_id": None,
            "events": 0,
            "late_events": 0,
            "dead_letter_events": 0,
            "duplicates": 0,
            "settings": settings,
        }
        self.write()

    def on_batch(self, report: BatchReport, totals: StreamTotals) -> None:
        """The sink's callback: record the batch and the running totals."""
        batches = [*self.data["batches"], report.as_dict()][-KEEP_BATCHES:]
        self.data.update(batches=batches, last_batch_id=report.batch_id, **totals.as_dict())
        self.write()

    def finish(self, status: str, error: str | None = None) -> None:
        self.data["status"] = status
        if error:
            self.data["error"] = error
        self.write()

    def write(self) -> None:
        self.data["updated_at"] = utc_now()
        write_manifest(self.files, self.path, self.data)
