"""`retailpipe reconcile`: do the stream's hourly figures agree with the batch's, and why not."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import typer
from rich.table import Table

from retailpipe.cli.dates import date_range
from retailpipe.cli.state import state
from retailpipe.console import console
from retailpipe.reconcile.model import Span
from retailpipe.reconcile.run import Reconciliation, reconcile
from retailpipe.reconcile.source import Source
from retailpipe.settings import Settings
from retailpipe.storage import Storage

EPILOG = """Examples:

  retailpipe reconcile                                  # every hour both paths cover

  retailpipe reconcile --date 2026-01-05                # one UTC day

  retailpipe reconcile --from 2026-01-01 --to 2026-01-07 --json

Compares, per store and UTC hour, curated/transactions (distinct receipts, units, net
revenue) with the stream's one-hour window starting on that hour. Differences are
explained by late events, dead letters or quarantined rows, or are unexplained. Exit 0
when nothing is unexplained, 1 otherwise. Writes runs/reconcile-<run_id>.json.
"""

WORST = 10


def reconcile_command(
    ctx: typer.Context,
    date: str | None = typer.Option(None, "--date", help="One UTC day, YYYY-MM-DD."),
    first: str | None = typer.Option(None, "--from", help="First UTC day."),
    last: str | None = typer.Option(None, "--to", help="Last UTC day."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    storage_root: str | None = typer.Option(
        None, "--storage-root", help="Storage root (default: storage.root)."
    ),
) -> None:
    """Compare the batch's and the stream's figures per store and UTC hour."""
    settings = state(ctx).settings({"storage.root": storage_root})
    dates = date_range(date, first, last)
    span = Span() if dates is None else Span(*_bounded(*dates))
    storage = Storage(settings.storage.root)
    if storage.is_local:
        result = reconcile(Source(storage), span)
    else:
        result = _on_hadoop(settings, storage, span)
    if as_json:
        typer.echo(json.dumps(result.manifest, indent=2))
    else:
        _print(result)
    result.raise_if_unexplained()


def _bounded(first: dt.date, last: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """`date_range` spells an open end as date.min/max; a Span spells it None."""
    return (None if first == dt.date.min else first, None if last == dt.date.max else last)


def _on_hadoop(settings: Settings, storage: Storage, span: Span) -> Reconciliation:
    """An HDFS root is read through Hadoop's client in a Spark driver (no Spark job runs)."""
    from retailpipe.fs import HadoopFiles
    from retailpipe.spark import create_session

    spark = create_session(settings, "reconcile", input_bytes=0)
    try:
        return reconcile(Source(storage, HadoopFiles(spark)), span)
    finally:
        spark.stop()


def _print(result: Reconciliation) -> None:
    manifest = result.manifest
    days = Table(title="batch vs stream, per UTC day (store-hours)")
    for column in (
        "day",
        "compared",
        "agree",
        "explained",
        "unexplained",
        "batch net",
        "stream net",
    ):
        days.add_column(column, justify="left" if column == "day" else "right")
    for day in manifest["days"]:
        days.add_row(
            day["date"],
            f"{day['compared']:,}",
            f"{day['agree']:,}",
            f"{day['explained']:,}",
            f"{day['unexplained']:,}",
            day["batch"]["net_revenue"],
            day["stream"]["net_revenue"],
        )
    console.print(days)
    worst = manifest["differences"][:WORST]
    if worst:
        table = Table(title=f"worst {len(worst)} store-hour(s)")
        for column in ("store", "hour", "status", "why", "batch net", "stream net", "set aside"):
            table.add_column(column)
        for diff in worst:
            aside = ", ".join(f"{k} {v}" for k, v in diff["set_aside"].items() if v)
            table.add_row(
                diff["store_id"],
                diff["hour"],
                diff["status"],
                ", ".join(diff["reasons"]) or "-",
                diff["batch"]["net_revenue"],
                diff["stream"]["net_revenue"],
                aside or "-",
            )
        console.print(table)
    console.print(summary_line(manifest), soft_wrap=True)
    if result.manifest_path:
        console.print(f"run manifest: {result.manifest_path}")


def summary_line(manifest: dict[str, Any]) -> str:
    """One line: hours compared, agreeing, explained (by what) and unexplained."""
    hours = manifest["hours"]
    if not hours["compared"]:
        return "reconcile: no store-hour is covered by both batch and stream yet"
    why = ", ".join(f"{k} {v}" for k, v in manifest["explained_by"].items() if v)
    return (
        f"reconcile: {hours['compared']:,} store-hour(s) compared, {hours['agree']:,} agree, "
        f"{hours['explained']:,} explained{f' ({why})' if why else ''}, "
        f"{hours['unexplained']:,} unexplained"
    )
