"""`retailpipe batch` (not built yet)."""

from __future__ import annotations

import typer

from retailpipe.errors import RetailpipeError

EPILOG = "Example: retailpipe batch --help"


def batch(ctx: typer.Context) -> None:
    """Not built yet."""
    raise RetailpipeError("`retailpipe batch` is not built yet", "watch the project's issues")
