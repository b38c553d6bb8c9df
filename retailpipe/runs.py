"""Run ids, timestamps and the run manifest every long-running command writes
(`runs/<job>-<run_id>.json`)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from retailpipe.fs import Files, Location, atomic_write


def new_run_id(now: dt.datetime | None = None) -> str:
    """UTC `YYYYMMDDTHHMMSSZ-<6 hex>`: sorting run ids sorts them by start time."""
    moment = now or dt.datetime.now(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def utc_now() -> str:
    """Now, UTC, to the second: `2026-01-31T17:05:00Z`."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def manifest_name(job: str, run_id: str) -> str:
    """The file name of a run manifest in `runs/`."""
    return f"{job}-{run_id}.json"


def write_manifest(files: Files, path: Location, manifest: dict[str, Any]) -> None:
    """Write (or rewrite) a run manifest atomically: readers see the old or the new one."""
    atomic_write(files, path, (json.dumps(manifest, indent=2) + "\n").encode())
