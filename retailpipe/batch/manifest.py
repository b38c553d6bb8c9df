"""Run ids and the run manifest (`runs/batch-<run_id>.json`)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from retailpipe.batch.fs import HadoopFs
from retailpipe.storage import Storage


def new_run_id(now: dt.datetime | None = None) -> str:
    """UTC `YYYYMMDDTHHMMSSZ-<6 hex>`: sorting run ids sorts them by start time."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_manifest(fs: HadoopFs, storage: Storage, manifest: dict[str, Any]) -> str:
    """Write the manifest atomically (temp file + rename); returns its URI."""
    uri = storage.uri("runs", f"{manifest['job']}-{manifest['run_id']}.json")
    fs.mkdirs(storage.uri("runs"))
    fs.write_text(uri, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return uri
