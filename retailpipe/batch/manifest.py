"""The batch run manifest (`runs/batch-<run_id>.json`)."""

from __future__ import annotations

import json
from typing import Any

from retailpipe.batch.fs import HadoopFs
from retailpipe.storage import Storage


def write_manifest(fs: HadoopFs, storage: Storage, manifest: dict[str, Any]) -> str:
    """Write the manifest atomically (temp file + rename); returns its URI."""
    uri = storage.uri("runs", f"{manifest['job']}-{manifest['run_id']}.json")
    fs.mkdirs(storage.uri("runs"))
    fs.write_text(uri, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return uri
