"""`retailpipe inspect FILE...`: the first thing to run on a foreign export (no Spark)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from retailpipe.cli.state import state
from retailpipe.console import console

EPILOG = """Examples:

  retailpipe inspect export.csv

  retailpipe inspect exports/*.csv --timezone Europe/London --rows 10

Then run the batch job with the same settings, e.g.
  retailpipe batch --input export.csv --timezone Europe/London
"""


def inspect(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="CSV files to look at."),
    timezone: str | None = typer.Option(
        None,
        "--timezone",
        help="Zone of timestamps without a UTC offset (default: batch.timezone).",
    ),
    rows: int = typer.Option(5, "--rows", min=0, help="First rows to show per file."),
    sample: int = typer.Option(
        10_000, "--sample", min=1, help="Rows per file to check for reason counts."
    ),
) -> None:
    """Show how the batch job would read an export: column mapping, first rows, reasons."""
    from retailpipe.inspect import VALID, inspect_file

    settings = state(ctx).settings({"batch.timezone": timezone})
    for path in files:
        found = inspect_file(
            path, settings.batch.aliases, settings.batch.timezone, show=rows, sample=sample
        )
        console.print(f"\n[bold]{path}[/]  ({found.encoding}, {found.sampled:,} rows checked)")
        mapping = Table("column", "read from", show_edge=False)
        for canonical, index in found.mapping.columns.items():
            mapping.add_row(canonical, found.header[index])
        for missing in found.mapping.missing:
            mapping.add_row(f"[red]{missing}[/]", "[red]missing[/]")
        if "transaction_id" not in found.mapping.columns:
            mapping.add_row("transaction_id", "[yellow]none: derived from file and line[/]")
        if found.amount_only and found.mapping.mappable:
            mapping.add_row("net amount", "amount column (no unit price)")
        console.print(mapping)
        if found.first:
            first = Table(
                "line",
                "timestamp",
                "UTC instant",
                "store",
                "product",
                "qty",
                "net",
                "reason",
                show_edge=False,
            )
            for row in found.first:
                f = row.fields
                first.add_row(
                    str(row.line),
                    f.get("timestamp") or "",
                    row.instant.strftime("%Y-%m-%d %H:%M:%S") if row.instant else "",
                    f.get("store_id") or "",
                    f.get("product_id") or "",
                    f.get("quantity") or "",
                    "" if row.net is None else f"{row.net:,.2f}",
                    row.reason if row.reason == VALID else f"[red]{row.reason}[/]",
                )
            console.print(first)
        reasons = Table("outcome", "rows", "example", show_edge=False)
        for reason, count in found.reasons.most_common():
            reasons.add_row(reason, f"{count:,}", found.details.get(reason, ""))
        console.print(reasons)
    console.print(
        "\nNot checked here (they need the whole input): duplicates, unknown stores and "
        "products. Next: [bold]retailpipe batch --input FILE[/] with the same settings."
    )
