"""`retailpipe hdfs` (not built yet)."""

from __future__ import annotations

import typer

from retailpipe.errors import RetailpipeError

app = typer.Typer(help="Not built yet.", no_args_is_help=True)


@app.command("status")
def status() -> None:
    """Not built yet."""
    raise RetailpipeError("`retailpipe hdfs` is not built yet", "watch the project's issues")
