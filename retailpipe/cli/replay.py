"""`retailpipe replay` (not built yet)."""

from __future__ import annotations

import typer

from retailpipe.errors import RetailpipeError

EPILOG = "Example: retailpipe replay --help"


def replay(ctx: typer.Context) -> None:
    """Not built yet."""
    raise RetailpipeError("`retailpipe replay` is not built yet", "watch the project's issues")
