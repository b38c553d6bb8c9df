"""`retailpipe stream` (not built yet)."""

from __future__ import annotations

import typer

from retailpipe.errors import RetailpipeError

EPILOG = "Example: retailpipe stream --help"


def stream(ctx: typer.Context) -> None:
    """Not built yet."""
    raise RetailpipeError("`retailpipe stream` is not built yet", "watch the project's issues")
