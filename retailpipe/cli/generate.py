"""`retailpipe generate`: synthetic daily CSV files plus a truth manifest."""

from __future__ import annotations

import typer
from rich.table import Table

from retailpipe.cli.dates import parse_date
from retailpipe.cli.state import state
from retailpipe.console import console
from retailpipe.generate.profiles import DEFAULT_PROFILE, PROFILES
from retailpipe.generate.run import generate as run_generate
from retailpipe.storage import Storage

EPILOG = """Examples:

  retailpipe generate --days 30

  retailpipe generate --days 7 --rows-per-day 100000 --seed 7 --out /tmp/retail

  retailpipe generate --profile grocery --force

  retailpipe generate --days 30 --bad-row-rate 0.01 --duplicate-rate 0.005 --late-rate 0.002 --force
"""


def generate(
    ctx: typer.Context,
    days: int | None = typer.Option(
        None, "--days", help="Business days to generate (default: 30)."
    ),
    start_date: str | None = typer.Option(
        None, "--start-date", help="First day, YYYY-MM-DD (default: 2026-01-01)."
    ),
    stores: int | None = typer.Option(None, "--stores", help="Number of stores (default: 12)."),
    products: int | None = typer.Option(None, "--products", help="Catalogue size (default: 400)."),
    rows_per_day: int | None = typer.Option(
        None, "--rows-per-day", help="Average receipt lines per day (default: 20000)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Random seed; same seed, same bytes (default: 42)."
    ),
    out: str | None = typer.Option(
        None, "--out", help="Storage root to write raw/ under (default: storage.root)."
    ),
    timezone: str | None = typer.Option(
        None, "--timezone", help="IANA time zone of the stores (default: America/New_York)."
    ),
    bad_row_rate: float | None = typer.Option(
        None, "--bad-row-rate", help="Share of malformed rows (default: 0)."
    ),
    duplicate_rate: float | None = typer.Option(
        None, "--duplicate-rate", help="Share of exact duplicate lines (default: 0)."
    ),
    late_rate: float | None = typer.Option(
        None, "--late-rate", help="Share of rows dated on an earlier day (default: 0)."
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        help=f"Category mix of the chain: {', '.join(PROFILES)} (default: {DEFAULT_PROFILE}).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Processes writing days in parallel (default: all cores)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace raw files generated with other parameters."
    ),
) -> None:
    """Write realistic daily point-of-sale CSVs, stores.csv, products.csv and _manifest.json."""
    settings = state(ctx).settings(
        {
            "storage.root": out,
            "generate.days": days,
            "generate.start_date": parse_date("--start-date", start_date),
            "generate.stores": stores,
            "generate.products": products,
            "generate.rows_per_day": rows_per_day,
            "generate.seed": seed,
            "generate.timezone": timezone,
            "generate.bad_row_rate": bad_row_rate,
            "generate.duplicate_rate": duplicate_rate,
            "generate.late_rate": late_rate,
            "generate.workers": workers,
            "generate.profile": profile,
        }
    )
    summary = run_generate(
        settings.generate,
        Storage(settings.storage.root),
        force=force,
        profile=settings.generate.profile,
    )
    table = Table(title="retailpipe generate", show_header=False)
    table.add_row("raw files", f"{summary.files} in {summary.raw_dir}")
    table.add_row("rows", f"{summary.rows:,}")
    table.add_row("net revenue (valid rows)", f"${float(summary.net_revenue):,.2f}")
    table.add_row(
        "defects injected", ", ".join(f"{k}={v}" for k, v in summary.defects.items()) or "none"
    )
    table.add_row(
        "time", f"{summary.seconds:.1f} s ({summary.rows / max(summary.seconds, 1e-9):,.0f} rows/s)"
    )
    console.print(table)
    console.print("next: [bold]retailpipe batch[/]")
