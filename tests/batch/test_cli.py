"""`retailpipe batch` through the Typer app: summary on success, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from retailpipe.cli.app import app
from tests.batch.conftest import make_raw

runner = CliRunner()


def test_batch_prints_summary_and_next_step(spark, tmp_path: Path) -> None:
    root = tmp_path / "store"
    make_raw(root, days=1, rows=300)
    result = runner.invoke(app, ["batch", "--root", str(root), "--date", "2026-03-02"])
    assert result.exit_code == 0, result.output
    assert "rows read" in result.output and "quarantined" in result.output
    assert "next: retailpipe serve batch" in result.output
    assert list((root / "runs").glob("batch-*.json"))


def test_no_input_for_the_dates_is_one_line_error(spark, tmp_path: Path) -> None:
    root = tmp_path / "store"
    make_raw(root, days=1, rows=50)
    result = runner.invoke(app, ["batch", "--root", str(root), "--date", "2025-12-31"])
    assert result.exit_code == 2
    assert "no raw transaction files for 2025-12-31" in result.output
    assert "Fix:" in result.output and "Traceback" not in result.output


def test_missing_root_and_bad_dates_are_one_line_errors(spark, tmp_path: Path) -> None:
    result = runner.invoke(app, ["batch", "--root", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no raw transaction files" in result.output
    assert not (tmp_path / "nowhere").exists()  # a mistyped root gets no folder, no manifest
    result = runner.invoke(app, ["batch", "--date", "05/01/2026"])
    assert result.exit_code == 2 and "is not a date" in result.output
    result = runner.invoke(app, ["batch", "--from", "2026-01-05", "--to", "2026-01-01"])
    assert result.exit_code == 2 and "after" in result.output


def test_a_failed_run_writes_a_failed_manifest_and_publishes_nothing(spark, tmp_path: Path) -> None:
    root = tmp_path / "store"
    make_raw(root, days=1, rows=50)
    (root / "_versions").write_text("a file where the run's version folders go")  # a real failure
    result = runner.invoke(app, ["batch", "--root", str(root)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    (path,) = (root / "runs").glob("batch-*.json")
    manifest = json.loads(path.read_text())
    assert manifest["status"] == "failed"
    assert manifest["error"] and manifest["finished_at"] and manifest["duration_s"] is not None
    assert manifest["outputs"] == {}
    assert not (root / "curated").exists() and not (root / "quarantine").exists()


def test_a_full_disk_is_one_line_and_leaves_no_temp_files(spark, tmp_path: Path) -> None:
    """A real full disk: the storage root on a 64 KiB tmpfs, the raw file elsewhere."""
    import os
    import subprocess

    import pytest

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    source = tmp_path / "source"
    make_raw(source, days=1, rows=4000)
    full = tmp_path / "full"
    full.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], check=True)
    try:
        raw = str(source / "raw" / "transactions_*.csv")
        result = runner.invoke(app, ["batch", "--root", str(full), "--input", raw])
        assert result.exit_code == 3, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert errors == [
            "error: the disk is full. Fix: free space under the storage root (and Spark's "
            "local dirs), then run again"
        ], result.output
        assert "Traceback" not in result.output and "at org.apache" not in result.output
        leftovers = [p for p in full.rglob("*") if p.is_file()]
        assert not [p for p in leftovers if p.name.startswith(".")], leftovers
        assert not list(full.glob("curated*")), "nothing may be published"
    finally:
        # Lazily: the shared Spark session may still hold a failed task's file open in it.
        subprocess.run(["umount", "--lazy", str(full)], check=False)
