"""Run the streaming query: Kafka source -> foreachBatch window sink, until a signal or the end."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from retailpipe.errors import ConfigError, RetailpipeError, from_spark
from retailpipe.fs import LOCAL, Files, HadoopFiles
from retailpipe.serving import MirroredFiles, serving_mirror
from retailpipe.settings import Settings, masked_dict
from retailpipe.spark import ui_url
from retailpipe.storage import Storage, serving_copy
from retailpipe.stream.manifest import RunManifest
from retailpipe.stream.options import StreamOptions, check_checkpoint
from retailpipe.stream.publish import has_parquet
from retailpipe.stream.query import STATE_STORE_CONF, KnownIds, changed_rows, read_ids
from retailpipe.stream.sink import SinkPaths, WindowSink
from retailpipe.stream.source import kafka_stream, wait_for_topic

log = logging.getLogger(__name__)

OUTPUTS = ("stream", "stream_late", "stream_stores", "stream_dead_letter", "checkpoints")
STOP_GRACE_S = 120.0


@dataclass
class StreamResult:
    run_id: str
    manifest: str
    status: str
    last_batch_id: int | None
    events: int
    late_events: int
    dead_letter_events: int
    watermark: str | None


def files_for(storage: Storage, spark: SparkSession, serving_root: str | None = None) -> Files:
    """The file system of the storage root: the local disk, or Hadoop's (HDFS) via Spark.

    With an HDFS root and a `serving_root`, what the dashboard reads is also written to that
    local folder (see retailpipe/serving.py; `run_stream` refreshes the copy before the
    query starts).
    """
    if storage.is_local:
        return LOCAL
    if not serving_root:
        return HadoopFiles(spark)
    serving = serving_copy(serving_root)
    return serving_mirror(HadoopFiles(spark), storage, serving)


def location(storage: Storage, dataset: str, *parts: str) -> str:
    """A dataset's location for `files_for(storage, ...)`: a local path or an hdfs:// URI."""
    return str(storage.path(dataset, *parts)) if storage.is_local else storage.uri(dataset, *parts)


def reset_outputs(storage: Storage, files: Files = LOCAL) -> None:
    """Delete the checkpoint and every stream output, to start over."""
    for dataset in OUTPUTS:
        files.delete(location(storage, dataset))
    log.info("deleted the stream checkpoint and outputs under %s", storage.base_uri)


def _paths(storage: Storage, files: Files) -> SinkPaths:
    return SinkPaths(
        windows=location(storage, "stream"),
        late=location(storage, "stream_late"),
        stores=location(storage, "stream_stores"),
        dead_letter=location(storage, "stream_dead_letter"),
        files=files,
    )


def known_ids(storage: Storage, files: Files) -> KnownIds:
    """The dimension files' store and product ids, when the files exist."""
    return KnownIds(
        stores=read_ids(files, location(storage, "stores"), "store_id"),
        products=read_ids(files, location(storage, "products"), "product_id"),
    )


def prepare(
    settings: Settings, options: StreamOptions, *, reset: bool, files: Files = LOCAL
) -> SinkPaths:
    """Check the checkpoint against the options; returns where the sink writes."""
    storage = Storage(settings.storage.root)
    if not storage.is_local and files is LOCAL:
        raise ConfigError(
            f"storage.root {settings.storage.root} is not local but no Hadoop file system "
            "was given",
            "run the stream through `retailpipe stream`, which passes Spark's",
        )
    if reset:
        reset_outputs(storage, files)
    checkpoint = location(storage, "checkpoints")
    paths = _paths(storage, files)
    fresh = not files.is_dir(files.join(checkpoint, "offsets"))
    if fresh and has_parquet([paths.windows, paths.late, paths.stores, paths.dead_letter], files):
        raise ConfigError(
            f"{paths.windows} holds results of an earlier run but there is no checkpoint to "
            "resume from",
            "pass --reset to delete the old stream outputs, or use another storage root",
        )
    if files.is_dir(files.join(checkpoint, "sink")):
        raise ConfigError(
            f"the checkpoint in {checkpoint} was written by an earlier retailpipe whose stream "
            "kept its windows on the driver; this one keeps them in Spark's state store",
            "pass --reset once to delete the old checkpoint and stream outputs and start over",
        )
    check_checkpoint(checkpoint, options, files)
    return paths


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set an event (the query then stops at a batch boundary)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: Any) -> None:
        log.info("%s received: stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _stop_at_boundary(query: Any) -> None:
    """Let the running micro-batch finish, then stop.

    Spark reports a batch's progress after it has written the batch's commit, so a new
    `lastProgress` means the batch that was running is committed. With a backlog the next
    batch starts at once; stopping interrupts it before its commit, and a restart runs it
    again from the committed state (its published rows are replaced, not added)."""
    deadline = time.monotonic() + STOP_GRACE_S
    before = _progress_id(query)
    while query.isActive and time.monotonic() < deadline:
        if not query.status.get("isTriggerActive") or _progress_id(query) != before:
            break
        time.sleep(0.05)
    query.stop()


def _progress_id(query: Any) -> tuple[Any, Any] | None:
    progress = query.lastProgress
    return None if progress is None else (progress.get("batchId"), progress.get("timestamp"))


def start_query(
    spark: SparkSession,
    settings: Settings,
    options: StreamOptions,
    sink: WindowSink,
    *,
    available_now: bool,
    known: KnownIds | None = None,
) -> Any:
    """Start the streaming query (Kafka -> checks -> stateful step -> foreachBatch sink)."""
    for key, value in STATE_STORE_CONF.items():
        spark.conf.set(key, value)
    source: DataFrame = kafka_stream(spark, settings)
    storage = Storage(settings.storage.root)
    writer = (
        changed_rows(source, options, known)
        .writeStream.queryName("retailpipe_stream")
        .foreachBatch(sink)
        .option("checkpointLocation", storage.uri("checkpoints"))
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{options.trigger_s} seconds")
    return writer.start()


def run_stream(
    spark: SparkSession, settings: Settings, *, available_now: bool = False, reset: bool = False
) -> StreamResult:
    """Run `retailpipe stream` until SIGINT/SIGTERM (or, with available_now, the topic's end)."""
    options = StreamOptions.from_settings(settings)
    storage = Storage(settings.storage.root)
    files = files_for(storage, spark, settings.storage.serving_root)
    paths = prepare(settings, options, reset=reset, files=files)
    if isinstance(files, MirroredFiles):
        copied = files.refresh()
        log.info(
            "serving copy %s: %d file(s) brought up to date", settings.storage.serving_root, copied
        )
    wait_for_topic(settings, wait=not available_now)
    manifest = RunManifest(
        location(storage, "runs"),
        options.topic,
        {
            **masked_dict(settings)["stream"],
            "available_now": available_now,
            "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        },
        files,
    )
    sink = WindowSink(paths, on_batch=manifest.on_batch)
    manifest.data.update(sink.totals.as_dict(), spark_ui=ui_url(spark))
    manifest.write()
    known = known_ids(storage, files)
    log.info(
        "streaming topic %s from %s: window %s, slide %s, watermark %s, %s",
        options.topic,
        settings.kafka.bootstrap_servers,
        options.window,
        options.slide,
        settings.stream.watermark,
        "available-now" if available_now else f"trigger every {options.trigger_s:g} s",
    )
    status = "failed"
    try:
        with _stop_on_signals() as stop:
            query = start_query(
                spark, settings, options, sink, available_now=available_now, known=known
            )
            while query.isActive:
                if stop.is_set():
                    _stop_at_boundary(query)
                    break
                query.awaitTermination(0.5)
            query.awaitTermination()
        status = "stopped"
    except RetailpipeError as exc:
        manifest.finish("failed", exc.one_line())
        raise
    except Exception as exc:
        error = from_spark(exc, "the streaming query")
        manifest.finish("failed", error.one_line())
        raise error from exc
    manifest.finish(status)
    data = manifest.data
    return StreamResult(
        run_id=manifest.run_id,
        manifest=str(manifest.path),
        status=status,
        last_batch_id=data["last_batch_id"],
        events=data["events"],
        late_events=data["late_events"],
        dead_letter_events=data["dead_letter_events"],
        watermark=data["watermark"],
    )
