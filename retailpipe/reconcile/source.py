"""Where reconcile reads: the storage root through the one file-system layer.

A local root is read with pyarrow straight from disk; any other root (HDFS) through
`HadoopFiles`, which needs the Spark driver's JVM, one file's bytes at a time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from retailpipe.fs import LOCAL, Files, visible
from retailpipe.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """A storage root and the file system that reads it."""

    storage: Storage
    files: Files = LOCAL

    def location(self, dataset: str, *parts: str) -> str:
        if self.storage.is_local:
            return str(self.storage.path(dataset, *parts))
        return self.storage.uri(dataset, *parts)

    def names(self, dataset: str, *parts: str) -> list[str]:
        """The visible entries of a folder, sorted; [] when it does not exist."""
        return [name for name in self.files.names(self.location(dataset, *parts)) if visible(name)]

    def parquet(self, dataset: str, *parts: str) -> list[str]:
        """The visible Parquet files of a folder."""
        folder = self.location(dataset, *parts)
        return [
            self.files.join(folder, name)
            for name in self.names(dataset, *parts)
            if name.endswith(".parquet")
        ]

    def read(self, path: str, columns: list[str] | None = None) -> pa.Table:
        if self.storage.is_local:
            return pq.read_table(path, columns=columns)
        data = self.files.read_bytes(path)
        return pq.read_table(pa.BufferReader(data), columns=columns)

    def read_all(self, paths: list[str], columns: list[str], schema: pa.Schema) -> pa.Table:
        """Several Parquet files as one table (an empty one of `schema` when there are none)."""
        tables = [self.read(path, columns) for path in paths]
        if not tables:
            return schema.empty_table()
        return pa.concat_tables(tables, promote_options="permissive")

    def first_line(self, path: str) -> str | None:
        """A text file's first line; None when it cannot be read (HadoopFiles raises the
        JVM's error, wrapped by py4j, for a missing file)."""
        try:
            return self.files.first_line(path) if self.files.exists(path) else None
        except (OSError, UnicodeDecodeError):
            return None

    def latest_run(self, job: str) -> dict[str, Any] | None:
        """The newest readable `runs/<job>-*.json` (run ids sort by start time)."""
        names = [n for n in self.names("runs") if n.startswith(f"{job}-") and n.endswith(".json")]
        for name in reversed(names):
            try:
                run = json.loads(self.files.read_bytes(self.location("runs", name)))
            except (OSError, ValueError):
                log.warning("skipping unreadable run manifest %s", name)
                continue
            if isinstance(run, dict):
                return run
        return None
