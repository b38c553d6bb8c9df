"""The local serving copy: curated data and run manifests copied from HDFS for the dashboards."""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from retailpipe.errors import ConfigError
from retailpipe.settings import Settings
from retailpipe.storage import Storage

log = logging.getLogger(__name__)


def refresh_serving_copy(settings: Settings) -> Path | None:
    """Copy `curated/` and `runs/` from an hdfs:// root to `storage.serving_root`.

    The copy is published like a local batch run: a new hidden version folder, then an
    atomic symlink swap of `curated`, so a dashboard never reads a half-copied table.
    Returns the serving root, or None when no copy is configured or needed.
    """
    source = Storage(settings.storage.root)
    if source.is_local or not settings.storage.serving_root:
        return None
    target = Storage(settings.storage.serving_root)
    if not target.is_local:
        raise ConfigError(
            f"storage.serving_root {settings.storage.serving_root!r} is not a local folder",
            "set storage.serving_root to a local path the dashboards can read",
        )
    from retailpipe.infra.hdfs import fs_shell

    root = target.local_root
    version = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    staging = root / "_versions" / version
    staging.mkdir(parents=True)
    log.info("copying %s to the serving copy %s", source.uri("curated"), root)
    fs_shell(settings, "-get", source.uri("curated"), str(staging))
    runs = root / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    fs_shell(settings, "-get", "-f", source.uri("runs", "*.json"), str(runs))
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
