"""Progress reporting for long work: a rich bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

log = logging.getLogger(__name__)


class Progress(Protocol):
    def advance(self, amount: float = 1, status: str | None = None) -> None: ...


class _LogProgress:
    """Logs at most every `every_s` seconds; used when output is not a terminal."""

    def __init__(self, description: str, total: float | None, every_s: float = 5.0) -> None:
        self.description, self.total, self.every_s = description, total, every_s
        self.done = 0.0
        self.started = self.last = time.monotonic()

    def advance(self, amount: float = 1, status: str | None = None) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self._log(status)

    def _log(self, status: str | None) -> None:
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        extra = f" {status}" if status else ""
        total = f"/{self.total:g}" if self.total else ""
        log.info("%s: %g%s%s%s", self.description, self.done, total, share, extra)


class _RichProgress:
    def __init__(self, bar: object, task: object) -> None:
        self.bar, self.task = bar, task

    def advance(self, amount: float = 1, status: str | None = None) -> None:
        fields = {"status": status} if status is not None else {}
        self.bar.update(self.task, advance=amount, **fields)  # type: ignore[attr-defined]


@contextmanager
def progress(description: str, total: float | None, unit: str = "") -> Iterator[Progress]:
    """A progress reporter for `total` units of work."""
    if not sys.stderr.isatty():
        reporter = _LogProgress(description, total)
        yield reporter
        log.info(
            "%s: done, %g %s in %.1f s",
            description,
            reporter.done,
            unit,
            time.monotonic() - reporter.started,
        )
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    from retailpipe.console import err_console

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with RichProgress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task(description, total=total, status="")
        yield _RichProgress(bar, task)
