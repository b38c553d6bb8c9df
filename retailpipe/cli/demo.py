"""`retailpipe demo` (not built yet)."""

from __future__ import annotations

import typer

from retailpipe.errors import RetailpipeError

EPILOG = "Example: retailpipe demo --help"


def demo(ctx: typer.Context) -> None:
    """Not built yet."""
    raise RetailpipeError("`retailpipe demo` is not built yet", "watch the project's issues")
