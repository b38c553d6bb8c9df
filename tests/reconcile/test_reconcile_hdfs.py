"""Reconcile on an HDFS root reads through HadoopFiles (the Spark driver's JVM) and finds
what it finds on the same files on a local disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retailpipe.fs import HadoopFiles
from retailpipe.reconcile.model import Span
from retailpipe.reconcile.run import reconcile
from retailpipe.reconcile.source import Source
from retailpipe.storage import Storage
from tests.reconcile.pipeline import Pipeline

pytestmark = pytest.mark.integration

# What the two sides read (raw/: the headers of quarantined rows' files); `curated` is a
# link into the batch's version folder.
READ = (
    "raw",
    "curated/transactions",
    "quarantine",
    "stream",
    "stream_late",
    "stream_stores",
    "stream_dead_letter",
    "checkpoints/stream/retailpipe-stream.json",
)
RUN_FIELDS = ("run_id", "started_at", "finished_at", "duration_s", "storage_root")


def _upload(files: HadoopFiles, local: Path, root: str) -> None:
    for relative in READ:
        source = (local / relative).resolve()
        paths = (
            [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        )
        for path in paths:
            name = f"{relative}/{path.relative_to(source)}" if path != source else relative
            files.write_bytes(f"{root}/{name}", path.read_bytes())


def test_an_hdfs_root_gives_the_local_result(spark, hdfs_cluster: str, pipeline: Pipeline) -> None:
    files = HadoopFiles(spark)
    root = f"{hdfs_cluster}/reconcile-{os.getpid()}"
    _upload(files, pipeline.root, root)
    local = reconcile(Source(Storage(str(pipeline.root))), Span(), write=False).manifest

    on_hdfs = reconcile(Source(Storage(root), files), Span())

    assert on_hdfs.manifest["hours"]["compared"] > 0
    assert {k: v for k, v in on_hdfs.manifest.items() if k not in RUN_FIELDS} == {
        k: v for k, v in local.items() if k not in RUN_FIELDS
    }
    assert on_hdfs.manifest_path is not None and on_hdfs.manifest_path.startswith(root)
    assert files.exists(on_hdfs.manifest_path)
