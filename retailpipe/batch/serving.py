"""The local serving copy: curated data and run manifests copied from HDFS for the dashboards."""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from retailpipe.settings import Settings
from retailpipe.storage import Storage, serving_copy

log = logging.getLogger(__name__)


def refresh_serving_copy(settings: Settings) -> Path | None:
    """Copy `curated/`, the batch run manifests and the dimension files from an hdfs:// root
    to `storage.serving_root`.

    The copy is published like a local batch run: a new hidden version folder, then an
    atomic symlink swap of `curated`, so a dashboard never reads a half-copied table.
    Returns the serving root, or None when no copy is configured or needed.
    """
    source = Storage(settings.storage.root)
    if source.is_local or not settings.storage.serving_root:
        return None
    target = serving_copy(settings.storage.serving_root)
    from retailpipe.infra.hdfs import fs_shell

    root = target.local_root
    version = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    staging = root / "_versions" / version
    staging.mkdir(parents=True)
    log.info("copying %s to the serving copy %s", source.uri("curated"), root)
    fs_shell(settings, "-get", source.uri("curated"), str(staging))
    # The batch run manifests and the store and product names the dashboards show: fetched
    # into the version folder, then each moved into place by an atomic rename (the stream
    # writes its own manifests to the copy, see stream/mirror.py).
    files = staging / "files"
    files.mkdir()
    fetched = [source.uri("runs", "batch-*.json"), source.uri("stores"), source.uri("products")]
    fs_shell(settings, "-get", *fetched, str(files))
    for fetched_file in sorted(files.iterdir()):
        folder = target.path("runs") if fetched_file.suffix == ".json" else target.path("raw")
        folder.mkdir(parents=True, exist_ok=True)
        os.replace(fetched_file, folder / fetched_file.name)
    _swap_symlink(root / "curated", staging / "curated")
    _drop_old_versions(root / "_versions", keep=staging)
    return root


def _swap_symlink(link: Path, target: Path) -> None:
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)  # a plain folder from an older copy: replaced once
    fresh = link.with_name(f".{link.name}.{uuid.uuid4().hex[:6]}")
    fresh.symlink_to(target)
    os.replace(fresh, link)


def _drop_old_versions(versions: Path, keep: Path) -> None:
    for entry in versions.iterdir():
        if entry != keep:
            shutil.rmtree(entry, ignore_errors=True)
