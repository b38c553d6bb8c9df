"""`retailpipe stream`: Spark Structured Streaming from Kafka to rolling one-hour windows."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from retailpipe.cli.state import state
from retailpipe.console import console
from retailpipe.spark import create_session, parse_conf_pairs, with_kafka
from retailpipe.stream.options import StreamOptions
from retailpipe.stream.source import wait_for_topic

EPILOG = """Examples:

  retailpipe kafka up && retailpipe replay --speed 600 & retailpipe stream

  retailpipe stream --available-now            # process the topic's backlog, then exit

  retailpipe stream --window 30m --slide 1m --watermark 2m --reset

  retailpipe stream --topic retail.transactions --starting-offsets latest --trigger 5s

  retailpipe stream --available-now --conf spark.master=spark://host:7077 --conf spark.cores.max=8

Results: stream/ (windows), stream_late/ (late events per window), stream_stores/ (each
store's watermark and counts), stream_dead_letter/ (malformed events with reasons),
runs/stream-<run_id>.json. The windows' state lives in Spark's state store on the
executors. Stop with Ctrl-C (or SIGTERM): the stream finishes its current micro-batch;
the next run resumes from checkpoints/stream/.
With an hdfs://host:port/path storage root, outputs and checkpoint stay on HDFS; set
storage.serving_root to a local folder to have the outputs written there too, for
`retailpipe serve stream`.
"""


_TOPIC = typer.Option(None, "--topic", help="Kafka topic (default: kafka.topic).")
_BROKERS = typer.Option(
    None, "--bootstrap-servers", help="Kafka brokers (default: kafka.bootstrap_servers)."
)
_TRIGGER = typer.Option(None, "--trigger", help="Micro-batch interval, e.g. 10s (default: 10s).")
_AVAILABLE_NOW = typer.Option(
    False, "--available-now", help="Process what is in the topic, then exit."
)
_WINDOW = typer.Option(None, "--window", help="Window length, e.g. 1h (default: 1h).")
_SLIDE = typer.Option(None, "--slide", help="Window slide, e.g. 5m (default: 5m).")
_WATERMARK = typer.Option(None, "--watermark", help="Allowed lateness, e.g. 10m (default: 10m).")
_OFFSETS = typer.Option(
    None, "--starting-offsets", help="earliest|latest, for a new checkpoint (default: earliest)."
)
_MAX_OFFSETS = typer.Option(
    None, "--max-offsets-per-trigger", help="Cap on events per micro-batch (default: 200000)."
)
_ROOT = typer.Option(None, "--storage-root", help="Storage root (default: storage.root).")
_RESET = typer.Option(False, "--reset", help="Delete the checkpoint and stream outputs first.")
_CONF = typer.Option(None, "--conf", help="Spark setting key=value (repeatable).")


def stream(
    ctx: typer.Context,
    topic: Optional[str] = _TOPIC,  # noqa: UP045 - typer needs Optional
    bootstrap_servers: Optional[str] = _BROKERS,  # noqa: UP045
    trigger: Optional[str] = _TRIGGER,  # noqa: UP045
    available_now: bool = _AVAILABLE_NOW,
    window: Optional[str] = _WINDOW,  # noqa: UP045
    slide: Optional[str] = _SLIDE,  # noqa: UP045
    watermark: Optional[str] = _WATERMARK,  # noqa: UP045
    starting_offsets: Optional[str] = _OFFSETS,  # noqa: UP045
    max_offsets_per_trigger: Optional[int] = _MAX_OFFSETS,  # noqa: UP045
    storage_root: Optional[str] = _ROOT,  # noqa: UP045
    reset: bool = _RESET,
    conf: Optional[list[str]] = _CONF,  # noqa: UP045
) -> None:
    """Stream Kafka events into sliding windows per store and for all stores (exactly once)."""
    from retailpipe.stream.run import run_stream

    settings = state(ctx).settings(
        {
            "kafka.topic": topic,
            "kafka.bootstrap_servers": bootstrap_servers,
            "storage.root": storage_root,
            "stream.trigger": trigger,
            "stream.window": window,
            "stream.slide": slide,
            "stream.watermark": watermark,
            "stream.starting_offsets": starting_offsets,
            "stream.max_offsets_per_trigger": max_offsets_per_trigger,
        }
    )
    # Fail on a bad duration, --conf or an unreachable broker before Spark starts.
    StreamOptions.from_settings(settings)
    spark_conf = parse_conf_pairs(conf or [])
    wait_for_topic(settings, wait=not available_now)
    spark = create_session(settings, "stream", add_ons=[with_kafka], conf=spark_conf)
    try:
        result = run_stream(spark, settings, available_now=available_now, reset=reset)
    finally:
        spark.stop()
    table = Table(title="retailpipe stream", show_header=False)
    table.add_row("status", result.status)
    table.add_row("last batch", str(result.last_batch_id))
    table.add_row("events counted (all runs)", f"{result.events:,}")
    table.add_row("late events", f"{result.late_events:,}")
    table.add_row("dead letters", f"{result.dead_letter_events:,}")
    table.add_row("watermark", str(result.watermark))
    table.add_row("run manifest", result.manifest)
    console.print(table)
