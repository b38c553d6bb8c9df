"""What reconcile refuses, in one line each: no stream run, windows it cannot compare hour
by hour, no curated lines. Plain files, no Spark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retailpipe.cli.app import app
from retailpipe.errors import InputError
from retailpipe.reconcile.model import Span
from retailpipe.reconcile.run import reconcile
from retailpipe.reconcile.source import Source
from retailpipe.storage import Storage


def _checkpoint(root: Path, window_s: float, slide_s: float) -> None:
    record = root / "checkpoints" / "stream" / "retailpipe-stream.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"options": {"window_s": window_s, "slide_s": slide_s}}))


def _refusal(root: Path) -> str:
    with pytest.raises(InputError) as caught:
        reconcile(Source(Storage(str(root))), Span())
    return caught.value.one_line()


def test_no_stream_run(tmp_path: Path) -> None:
    assert "no stream run under" in _refusal(tmp_path)


@pytest.mark.parametrize(
    ("window_s", "slide_s", "words"),
    [(1800, 300, "windows are 1800 s long"), (3600, 420, "slide (420 s) does not divide an hour")],
)
def test_windows_that_cannot_be_compared_hour_by_hour(
    tmp_path: Path, window_s: float, slide_s: float, words: str
) -> None:
    _checkpoint(tmp_path, window_s, slide_s)
    assert words in _refusal(tmp_path)


def test_no_curated_lines_through_the_cli(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 3600, 300)

    done = CliRunner().invoke(
        app, ["reconcile", "--storage-root", str(tmp_path), "--date", "2026-01-05"]
    )

    assert done.exit_code == 2
    line = " ".join(done.stderr.split())
    assert "no curated transactions under" in line and "from 2026-01-05 to 2026-01-05" in line
