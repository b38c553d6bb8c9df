"""One run of the batch job: where it reads and writes, and what it holds along the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from retailpipe.batch.publish import Version
from retailpipe.fs import HadoopFiles
from retailpipe.settings import Settings
from retailpipe.storage import Storage


@dataclass
class BatchRun:
    """The pieces every step of a run needs.

    `full_rebuild`: the run reads every raw file, so nothing is carried over from the
    published version. `manifest`: the run manifest, filled in by the steps. DataFrames
    persisted with `keep` are released by `release` when the run ends.
    """

    spark: SparkSession
    settings: Settings
    storage: Storage
    files: HadoopFiles
    version: Version
    manifest: dict[str, Any]
    full_rebuild: bool
    held: list[DataFrame] = field(default_factory=list)

    def keep(self, df: DataFrame, level: StorageLevel | None = None) -> DataFrame:
        """`df` persisted (at Spark's default level unless `level`) until the run ends."""
        kept = df.persist() if level is None else df.persist(level)
        self.held.append(kept)
        return kept

    def release(self) -> None:
        for df in self.held:
            df.unpersist()
        self.held.clear()
