"""`retailpipe batch`: cleanse, validate, quarantine and aggregate the raw files with Spark."""

from __future__ import annotations

from decimal import Decimal

import typer
from rich.table import Table

from retailpipe.cli.dates import date_range
from retailpipe.cli.state import state
from retailpipe.console import console

EPILOG = """Examples:

  retailpipe batch

  retailpipe batch --date 2026-01-05

  retailpipe batch --from 2026-01-01 --to 2026-01-07 --conf spark.sql.shuffle.partitions=4

  retailpipe batch --input /data/exports/other_pos/ --config configs/local.toml

  retailpipe batch --input export.csv --timezone Europe/London   (times without an offset)

Outputs go under storage.root: curated/ (Parquet + CSV), quarantine/, runs/.
"""


def batch(
    ctx: typer.Context,
    date: str | None = typer.Option(None, "--date", help="One business day, YYYY-MM-DD."),
    first: str | None = typer.Option(None, "--from", help="First business day to process."),
    last: str | None = typer.Option(None, "--to", help="Last business day to process."),
    input_uri: str | None = typer.Option(
        None, "--input", help="Raw CSV file, folder or glob (default: <storage.root>/raw)."
    ),
    root: str | None = typer.Option(None, "--root", help="Storage root (default: storage.root)."),
    conf: list[str] | None = typer.Option(
        None, "--conf", help="Spark setting key=value (repeatable)."
    ),
    timezone: str | None = typer.Option(
        None,
        "--timezone",
        help="Zone of timestamps without a UTC offset (IANA name, e.g. Europe/London).",
    ),
    allow_invalid: bool = typer.Option(
        False,
        "--allow-invalid",
        help="Publish even when more than batch.max_invalid_fraction of the rows is quarantined.",
    ),
) -> None:
    """Cleanse, validate and aggregate raw sales into curated Parquet and CSV, idempotently."""
    from pyspark.sql import SparkSession

    from retailpipe.batch.extract import local_input_bytes
    from retailpipe.batch.job import run_batch
    from retailpipe.fs import HadoopFiles
    from retailpipe.serving import refresh_batch_copy
    from retailpipe.spark import create_session, parse_conf_pairs
    from retailpipe.storage import Storage

    dates = date_range(date, first, last)
    settings = state(ctx).settings(
        {
            "storage.root": root,
            "batch.input": input_uri,
            "batch.timezone": timezone,
            "batch.max_invalid_fraction": 1.0 if allow_invalid else None,
        }
    )
    spark_conf = parse_conf_pairs(conf or [])
    # Stop only a session this command started (tests and `demo` may share one).
    owned = SparkSession.getActiveSession() is None
    storage = Storage(settings.storage.root)
    size = local_input_bytes(storage, settings.batch.input, dates)
    spark = create_session(settings, "batch", conf=spark_conf, input_bytes=size)
    try:
        result = run_batch(spark, settings, dates=dates, input_uri=input_uri)
        _summary(result.manifest, result.manifest_uri)
        serving = refresh_batch_copy(HadoopFiles(spark), storage, settings.storage.serving_root)
    finally:
        if owned:
            spark.stop()
    if serving is not None:
        console.print(f"serving copy for the dashboards refreshed in {serving}")


def _summary(manifest: dict, manifest_uri: str) -> None:
    counts = manifest["counts"]
    table = Table(title=f"retailpipe batch  {manifest['run_id']}", show_header=False)
    table.add_row("input files", f"{len(manifest['inputs'])}")
    table.add_row("rows read", f"{counts['rows_read']:,}")
    table.add_row("valid", f"{counts['valid']:,}")
    table.add_row("duplicates removed", f"{counts['duplicates']:,}")
    table.add_row("quarantined", f"{counts['quarantined']:,}")
    for reason, n in sorted(counts["by_reason"].items(), key=lambda item: -item[1])[:5]:
        table.add_row(f"  {reason}", f"{n:,}")
    table.add_row("net revenue", f"{Decimal(counts['net_revenue']):,.2f}")
    for name, source in manifest.get("dimensions", {}).items():
        if not source.startswith(("file:", "hdfs:", "/")):
            table.add_row(f"[yellow]{name}[/]", source)
    for rejected in manifest["rejected_files"]:
        table.add_row("[yellow]rejected file[/]", f"{rejected['file']}: {rejected['reason']}")
    partitions = manifest.get("partitions_written", [])
    table.add_row("partitions written", f"{len(partitions)}")
    table.add_row("outputs", manifest["outputs"].get("transactions", "").rsplit("/", 2)[0])
    table.add_row("run manifest", manifest_uri)
    table.add_row("time", f"{manifest['duration_s']:.1f} s")
    console.print(table)
    console.print("next: [bold]retailpipe serve batch[/]")
