"""Reads published Parquet, run manifests and dimension CSVs; cached until the data changes."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from retailpipe.errors import ConfigError
from retailpipe.settings import Settings
from retailpipe.storage import Storage

log = logging.getLogger(__name__)

T = TypeVar("T")

# pyarrow's dataset discovery skips these, and so do we: a writer's temp files and markers.
HIDDEN_PREFIXES = (".", "_")
READ_ATTEMPTS = 3
CACHE_SIZE = 256

Fingerprint = tuple[Any, ...]


class DataUnavailable(Exception):
    """A dataset could not be read even after retries (e.g. replaced while being read)."""


def serving_storage(settings: Settings) -> Storage:
    """The storage the dashboards read: `storage.serving_root` if set, else `storage.root`."""
    storage = Storage(settings.storage.serving_root or settings.storage.root)
    if not storage.is_local:
        raise ConfigError(
            f"the dashboards read local files, but the storage root is {storage.root}",
            "set storage.serving_root to a local folder (batch and stream keep a copy there)",
        )
    return storage


def fingerprint(path: Path) -> Fingerprint | None:
    """What identifies the published version of a dataset: every visible file's name, size
    and mtime, plus the directory's inode (a swapped-in directory gets a new one).
    None when there is no visible Parquet data."""
    try:
        root = path.stat()
    except OSError:
        return None
    entries: list[tuple[str, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(HIDDEN_PREFIXES))
        for name in sorted(filenames):
            if name.startswith(HIDDEN_PREFIXES):
                continue
            try:
                st = os.stat(os.path.join(dirpath, name))
            except OSError:  # removed while we looked: the next check sees the new version
                continue
            entries.append(
                (os.path.relpath(os.path.join(dirpath, name), path), st.st_size, st.st_mtime_ns)
            )
    if not entries:
        return None
    return (root.st_ino, tuple(entries))


def _partitioning(path: Path) -> ds.Partitioning | None:
    """Hive `sale_date=YYYY-MM-DD` partitions, typed as dates, when the dataset has them."""
    try:
        partitioned = any(
            child.name.startswith("sale_date=") for child in path.iterdir() if child.is_dir()
        )
    except OSError:
        return None
    if not partitioned:
        return None
    return ds.partitioning(pa.schema([("sale_date", pa.date32())]), flavor="hive")


def read_parquet(
    path: Path, columns: list[str] | None = None, where: ds.Expression | None = None
) -> pa.Table:
    """Read the visible Parquet files of a dataset, only `columns`, with `where` pushed down.

    A writer may replace the dataset between our listing and our read; retry then.
    """
    last: Exception | None = None
    for attempt in range(READ_ATTEMPTS):
        try:
            dataset = ds.dataset(
                path,
                format="parquet",
                partitioning=_partitioning(path),
                ignore_prefixes=list(HIDDEN_PREFIXES),
            )
            return dataset.to_table(columns=columns, filter=where)
        except (OSError, pa.ArrowInvalid) as exc:
            last = exc
            time.sleep(0.05 * (attempt + 1))
    raise DataUnavailable(f"cannot read {path}: {last}")


class Catalog:
    """The datasets one server reads, with change detection and a result cache.

    `version(name)` is checked at most every `refresh_s` seconds; every cached value is
    keyed by the versions it was computed from, so new data is picked up on the next check.
    """

    def __init__(self, storage: Storage, refresh_s: float = 2.0) -> None:
        self.storage = storage
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._versions: dict[str, tuple[float, Fingerprint | None]] = {}
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()

    def path(self, dataset: str) -> Path:
        return self.storage.path(dataset)

    def version(self, dataset: str) -> Fingerprint | None:
        """The dataset's current fingerprint (None: no data), re-checked every refresh_s."""
        now = time.monotonic()
        with self._lock:
            seen = self._versions.get(dataset)
        if seen is not None and now - seen[0] < self.refresh_s:
            return seen[1]
        if dataset in ("runs", "stores", "products"):
            current = _file_fingerprint(self.path(dataset))
        else:
            current = fingerprint(self.path(dataset))
        with self._lock:
            self._versions[dataset] = (now, current)
        return current

    def cached(self, key: Hashable, datasets: tuple[str, ...], compute: Callable[[], T]) -> T:
        """`compute()`, memoised under `key` and the current versions of `datasets`."""
        full_key = (key, tuple(self.version(name) for name in datasets))
        with self._lock:
            if full_key in self._cache:
                self._cache.move_to_end(full_key)
                return self._cache[full_key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._cache[full_key] = value
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return value

    def table(self, dataset: str, columns: list[str] | None = None) -> pa.Table | None:
        """A whole (small) dataset, e.g. an aggregate; None when it has no data yet."""
        if self.version(dataset) is None:
            return None
        key = ("table", dataset, tuple(columns) if columns else None)
        return self.cached(key, (dataset,), lambda: read_parquet(self.path(dataset), columns))

    def scan(
        self, dataset: str, columns: list[str], where: ds.Expression | None
    ) -> pa.Table | None:
        """Only `columns` of the rows matching `where` (not cached: callers cache results)."""
        if self.version(dataset) is None:
            return None
        return read_parquet(self.path(dataset), columns, where)

    def latest_run(self, job: str, status: str | None = None) -> dict[str, Any] | None:
        """The newest `runs/<job>-<run_id>.json` manifest (optionally with that status)."""
        return self.cached(
            ("run", job, status), ("runs",), lambda: _latest_run(self.path("runs"), job, status)
        )

    def names(self, dataset: str, key: str, name: str) -> dict[str, str]:
        """id -> display name from a dimension CSV (stores/products); {} when it is absent."""
        return self.cached(
            ("names", dataset), (dataset,), lambda: _names(self.path(dataset), key, name)
        )


def _file_fingerprint(path: Path) -> Fingerprint | None:
    try:
        st = path.stat()
    except OSError:
        return None
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if not p.name.startswith(HIDDEN_PREFIXES))
        return (st.st_ino, st.st_mtime_ns, tuple(names))
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _latest_run(runs: Path, job: str, status: str | None) -> dict[str, Any] | None:
    """Run ids sort by time, so the newest manifest is the last name in lexical order."""
    try:
        names = sorted(
            p.name
            for p in runs.iterdir()
            if p.name.startswith(f"{job}-") and p.name.endswith(".json")
        )
    except OSError:
        return None
    for name in reversed(names):
        try:
            run = json.loads((runs / name).read_text())
        except (OSError, ValueError):
            log.warning("skipping unreadable run manifest %s", runs / name)
            continue
        if isinstance(run, dict) and (status is None or run.get("status") == status):
            return run
    return None


def _names(path: Path, key: str, name: str) -> dict[str, str]:
    try:
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(include_columns=[key, name])
        )
    except (OSError, pa.ArrowInvalid, KeyError):
        return {}
    return dict(zip(table[key].to_pylist(), table[name].to_pylist(), strict=True))


def catalog() -> Catalog:
    """The request's app's Catalog."""
    from flask import current_app

    return current_app.extensions["retailpipe_catalog"]  # type: ignore[no-any-return]
