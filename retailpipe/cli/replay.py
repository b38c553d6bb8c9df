"""`retailpipe replay`: send the raw CSV rows to Kafka as JSON events."""

from __future__ import annotations

from collections import Counter
from typing import Optional

import typer
from rich.table import Table

from retailpipe.cli.dates import parse_date
from retailpipe.cli.state import state
from retailpipe.console import console
from retailpipe.errors import ConfigError, ServiceError
from retailpipe.replay.run import Mode, ReplayOptions, ReplaySummary
from retailpipe.replay.run import replay as run_replay
from retailpipe.replay.source import read_source, select_files, stage_hdfs_raw
from retailpipe.settings import Settings
from retailpipe.storage import Storage

EPILOG = """Examples:

  retailpipe kafka up && retailpipe replay --max

  retailpipe replay --date 2026-01-05 --speed 60 --shift-to-now

  retailpipe replay --from 2026-01-01 --to 2026-01-07 --rate 500 --loop

  RETAILPIPE_KAFKA__BOOTSTRAP_SERVERS=broker:9092 retailpipe replay --topic sales --limit 1000

Events are JSON (key: store_id); see docs/kafka.md for the schema. Rows that cannot be
parsed are not sent: they are listed in the summary (or sent to kafka.dead_letter_topic).
"""
SHOW_SKIPPED = 10


def _mode(settings: Settings, max_speed: bool, speed: float | None, rate: float | None) -> Mode:
    chosen = [
        name for name, on in (("--max", max_speed), ("--speed", speed), ("--rate", rate)) if on
    ]
    if len(chosen) > 1:
        raise ConfigError(f"{' and '.join(chosen)} exclude each other", "pick one pacing")
    if max_speed:
        return "max"
    if speed is not None or (rate is None and settings.replay.speed is not None):
        return "speed"
    if rate is not None or settings.replay.rate is not None:
        return "rate"
    return "max"


def replay(
    ctx: typer.Context,
    date: Optional[str] = typer.Option(  # noqa: UP045 - typer needs Optional
        None, "--date", help="Replay one business day, YYYY-MM-DD."
    ),
    date_from: Optional[str] = typer.Option(  # noqa: UP045
        None, "--from", help="First day of a range, YYYY-MM-DD (inclusive)."
    ),
    date_to: Optional[str] = typer.Option(  # noqa: UP045
        None, "--to", help="Last day of a range, YYYY-MM-DD (inclusive)."
    ),
    topic: Optional[str] = typer.Option(  # noqa: UP045
        None, "--topic", help="Kafka topic (default: kafka.topic, retail.transactions)."
    ),
    speed: Optional[float] = typer.Option(  # noqa: UP045
        None, "--speed", help="Time-lapse factor keeping the gaps: 60 = an hour per minute."
    ),
    rate: Optional[float] = typer.Option(  # noqa: UP045
        None, "--rate", help="Send this many events per second."
    ),
    max_speed: bool = typer.Option(
        False, "--max", help="As fast as the broker takes them (the default pacing)."
    ),
    shift_to_now: bool = typer.Option(
        False, "--shift-to-now", help="Move event times to the present (a live dashboard)."
    ),
    loop: bool = typer.Option(
        False, "--loop", help="Start over at the end, until Ctrl-C or --limit."
    ),
    limit: Optional[int] = typer.Option(  # noqa: UP045
        None, "--limit", min=1, help="Stop after this many events."
    ),
    bootstrap_servers: Optional[str] = typer.Option(  # noqa: UP045
        None, "--bootstrap-servers", help="Kafka brokers (default: kafka.bootstrap_servers)."
    ),
    root: Optional[str] = typer.Option(  # noqa: UP045
        None, "--root", help="Storage root holding raw/ (default: storage.root)."
    ),
    timezone: Optional[str] = typer.Option(  # noqa: UP045
        None,
        "--timezone",
        help="Zone of timestamps without a UTC offset (default: batch.timezone).",
    ),
) -> None:
    """Send raw transaction rows to Kafka as JSON events in event-time order, then summarise."""
    if date is not None and (date_from or date_to):
        raise ConfigError("--date excludes --from/--to", "use --date D or --from D1 --to D2")
    settings = state(ctx).settings(
        {
            "storage.root": root,
            "kafka.topic": topic,
            "kafka.bootstrap_servers": bootstrap_servers,
            "replay.speed": speed,
            "replay.rate": rate,
            "batch.timezone": timezone,
        }
    )
    options = ReplayOptions(
        topic=settings.kafka.topic,
        mode=_mode(settings, max_speed, speed, rate),
        speed=settings.replay.speed,
        rate=settings.replay.rate,
        shift_to_now=shift_to_now,
        loop=loop,
        limit=limit,
    )
    storage = Storage(settings.storage.root)
    if not storage.is_local:
        storage = stage_hdfs_raw(settings, storage)
    files = select_files(
        storage,
        parse_date("--date", date),
        parse_date("--from", date_from),
        parse_date("--to", date_to),
    )
    with read_source(files, timezone=settings.batch.timezone) as source:
        summary = run_replay(settings, source, options)
    _print_summary(summary, settings)
    if summary.failed:
        causes = ", ".join(f"{name} x{n}" for name, n in summary.errors.most_common(3))
        raise ServiceError(
            f"{summary.failed} of {summary.sent} event(s) were not delivered ({causes})",
            "check the broker (`retailpipe kafka status`) and replay again; event ids are "
            "stable, so consumers can drop the duplicates",
        )
    if summary.interrupted:
        raise typer.Exit(130)


def _print_summary(summary: ReplaySummary, settings: Settings) -> None:
    table = Table(title="retailpipe replay", show_header=False)
    created = " (created)" if summary.topic_created else ""
    table.add_row("topic", f"{summary.topic}{created} on {settings.kafka.bootstrap_servers}")
    table.add_row("files", f"{len(summary.files)}: {_files(summary.files)}")
    table.add_row("rows read", f"{summary.rows_read + len(summary.skipped):,}")
    reasons = Counter(row.reason for row in summary.skipped)
    skipped = ", ".join(f"{reason}={n}" for reason, n in sorted(reasons.items())) or "none"
    table.add_row("skipped (not sent)", f"{len(summary.skipped):,} {skipped}")
    if summary.dead_lettered:
        dead_letters = settings.kafka.dead_letter_topic
        table.add_row("dead-lettered", f"{summary.dead_lettered:,} to {dead_letters}")
    passes = f" in {summary.passes} passes" if summary.passes > 1 else ""
    table.add_row("sent", f"{summary.sent:,}{passes}")
    table.add_row("delivered", f"{summary.delivered:,}")
    failed = f"{summary.failed:,}" + (f" ({dict(summary.errors)})" if summary.errors else "")
    table.add_row("failed", failed)
    table.add_row("rate", f"{summary.rate:,.0f} events/s over {summary.seconds:.1f} s")
    if summary.first_event_time:
        table.add_row("event time", f"{summary.first_event_time} .. {summary.last_event_time}")
    if summary.interrupted:
        table.add_row("stopped", "interrupted; queued events were flushed")
    console.print(table)
    for row in summary.skipped[:SHOW_SKIPPED]:
        console.print(
            f"  skipped {row.file}:{row.line_number} {row.reason}: {row.detail}", soft_wrap=True
        )
    if len(summary.skipped) > SHOW_SKIPPED:
        console.print(f"  ... and {len(summary.skipped) - SHOW_SKIPPED} more", soft_wrap=True)


def _files(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} .. {names[-1]}"
