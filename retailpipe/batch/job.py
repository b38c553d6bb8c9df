"""The batch job: extract -> cleanse/validate -> de-duplicate -> load, then publish.

`run_batch` sets up one `BatchRun` and its manifest; `_steps` is the job itself. Reading
lives in inputs.py/extract.py, the rules in transforms/, counting in counts.py, writing in
load.py and the atomic swap in publish.py.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from retailpipe.batch import counts, extract, gate, load
from retailpipe.batch.inputs import read_dimensions, read_rows
from retailpipe.batch.publish import Version, clean_abandoned, publish
from retailpipe.batch.run import BatchRun
from retailpipe.fs import HadoopFiles
from retailpipe.progress import progress
from retailpipe.runs import manifest_name, new_run_id, utc_now, write_manifest
from retailpipe.schemas import TRANSACTIONS_COLUMNS
from retailpipe.settings import Settings
from retailpipe.storage import AGGREGATES, Storage
from retailpipe.transforms.cleanse import check, finish, with_attributes

STEPS = 6
# Session settings for the run. The partitioned writer keeps one open file per sale date
# and task instead of sorting every line by date first (past 64 dates in a task it sorts
# the rest); Spark only does so when the write is not planned with a required ordering.
CONCURRENT_WRITES = {
    "spark.sql.optimizer.plannedWrite.enabled": "false",
    "spark.sql.maxConcurrentOutputFileWriters": "64",
}
RUN_CONF = {**extract.ONE_PARTITION_PER_FILE, **CONCURRENT_WRITES}


@dataclass
class BatchResult:
    """What the run did; `manifest` is the JSON written to runs/."""

    manifest: dict[str, Any]
    manifest_uri: str
    partitions: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, Any]:
        return self.manifest["counts"]


def run_batch(
    spark: SparkSession,
    settings: Settings,
    *,
    dates: tuple[dt.date, dt.date] | None = None,
    input_uri: str | None = None,
) -> BatchResult:
    """Run the batch job over the raw files of `dates` (all when None) and publish it."""
    storage = Storage(settings.storage.root)
    run_id = new_run_id()
    clock = time.monotonic()
    manifest: dict[str, Any] = {
        "job": "batch",
        "run_id": run_id,
        "started_at": utc_now(),
        "finished_at": None,
        "duration_s": None,
        "status": "failed",
        "spark_version": spark.version,
        "inputs": [],
        "rejected_files": [],
        "counts": {},
        "outputs": {},
        "timings": {},
        "dates": None if dates is None else [d.isoformat() for d in dates],
    }
    input_uri = input_uri or settings.batch.input
    run = BatchRun(
        spark=spark,
        settings=settings,
        storage=storage,
        files=HadoopFiles(spark),
        version=Version(storage, run_id),
        manifest=manifest,
        full_rebuild=dates is None and input_uri is None,
    )
    # No input, no run: nothing is written (not even a manifest) under a mistyped root.
    files = extract.find_inputs(run.files, storage, input_uri, dates)
    saved = {key: spark.conf.get(key, None) for key in RUN_CONF}
    try:
        for key, value in RUN_CONF.items():
            spark.conf.set(key, value)
        partitions = _steps(run, files)
        manifest["status"] = "succeeded"
    except gate.Refused as refusal:
        manifest["status"] = "refused"
        manifest["error"] = refusal.one_line()
        _finish(run, clock)
        raise
    except BaseException as exc:
        manifest["error"] = str(getattr(exc, "message", exc)).splitlines()[0] if str(exc) else ""
        clean_abandoned(run.files, storage, run_id)
        _finish(run, clock)
        raise
    finally:
        run.release()
        for key, previous in saved.items():
            if previous is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, previous)
    uri = _finish(run, clock)
    return BatchResult(manifest=manifest, manifest_uri=uri, partitions=partitions)


def _finish(run: BatchRun, clock: float) -> str:
    """Write the run manifest; returns its URI."""
    run.manifest["finished_at"] = utc_now()
    run.manifest["duration_s"] = round(time.monotonic() - clock, 3)
    uri = run.storage.uri("runs", manifest_name("batch", run.manifest["run_id"]))
    write_manifest(run.files, uri, run.manifest)
    return uri


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timings[step] = round(time.monotonic() - started, 3)


def _steps(run: BatchRun, files: list[extract.InputFile]) -> list[str]:
    """The steps of one run over `files`; returns the sale-date partitions it recomputed."""
    manifest, storage = run.manifest, run.storage
    timings: dict[str, float] = manifest["timings"]
    with progress("batch", STEPS, "steps") as bar:
        with _timed(timings, "plan"):
            rows, manifest["rejected_files"] = read_rows(run, files)
            dimensions = read_dimensions(run)
            manifest["dimensions"] = dimensions.describe(storage)
            stores, products = dimensions.stores, dimensions.products
        bar.advance(1, "read + validate")
        with _timed(timings, "read_validate"):
            # One shuffle, by (sale_date, transaction_id): the repeated keys are counted and
            # the aggregates' per-transaction sums are taken within partitions. The cache
            # leaves out the store and product attributes: they are joined when written.
            checked = run.keep(
                finish(
                    check(rows, stores, products, run.settings.batch.timezone).repartition(
                        "sale_date", "transaction_id"
                    ),
                    products,
                ),
                StorageLevel.MEMORY_AND_DISK,
            )
        with _timed(timings, "duplicates"):
            lines, per_file = counts.drop_repeats(run, checked)
        manifest["inputs"] = counts.inputs_summary(files, per_file)
        manifest["counts"] = counts.counts_summary(per_file)
        manifest["counts"]["net_revenue"] = counts.net_revenue(lines)
        run_files = {f.name for f in files}
        refusal = gate.judge(checked, manifest["counts"], run.settings.batch.max_invalid_fraction)
        if refusal is not None:
            # Nothing curated is published; the quarantine is, so the user can see why.
            manifest["gate"] = refusal.as_dict()
            load.write_quarantine(run, checked, run_files)
            publish(run.files, run.version, set(), [], names=("quarantine",))
            raise refusal
        bar.advance(1, "transactions")
        with _timed(timings, "transactions"):
            had_parts = bool(load.published_partitions(run))
            table = with_attributes(lines, stores, products).select(*TRANSACTIONS_COLUMNS)
            affected = load.write_transactions(run, table, counts.valid_days(per_file), run_files)
        bar.advance(1, "quarantine")
        with _timed(timings, "quarantine"):
            load.write_quarantine(run, checked, run_files)
        bar.advance(1, "aggregates")
        with _timed(timings, "aggregates"):
            # Without carried-over rows the written partitions hold exactly these lines.
            cached = lines if (run.full_rebuild or not had_parts) else None
            csv_names = load.write_aggregates(run, affected, cached)
        bar.advance(1, "publish")
        with _timed(timings, "publish"):
            publish(run.files, run.version, affected, csv_names)
        bar.advance(1)
    outputs = {name: storage.uri(name) for name in ("transactions", *AGGREGATES, "quarantine")}
    outputs["curated_csv"] = storage.uri("curated_csv")
    manifest["outputs"] = outputs
    manifest["partitions_written"] = sorted(affected)
    return sorted(affected)
