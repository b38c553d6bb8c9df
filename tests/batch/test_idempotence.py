"""Idempotence (reruns give the same rows, untouched partitions keep their bytes) and kill
safety (SIGKILL at the last moment before the publish swap leaves readers the old version)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from retailpipe.batch.job import run_batch
from retailpipe.generate.run import generate
from retailpipe.pause import BEFORE_BATCH_PUBLISH
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import AGGREGATES, Storage
from tests import processes
from tests.batch.oracle import expected_aggregates, keyed, read_truth
from tests.conftest import test_settings as settings_for  # not collected as a test

PAUSE_TIMEOUT_S = 600.0


def _files(folder: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (sha256, inode) of every visible file below a folder."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(p.startswith((".", "_")) for p in rel.parts):
            out[str(rel)] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_ino)
    return out


def _rows(storage: Storage, name: str) -> list[tuple]:
    partitioning = "hive" if name == "transactions" else None
    table = ds.dataset(storage.path(name), format="parquet", partitioning=partitioning).to_table()
    rows = [tuple(sorted((k, str(v)) for k, v in r.items())) for r in table.to_pylist()]
    return sorted(rows)


def _state(storage: Storage) -> dict[str, list[tuple]]:
    return {name: _rows(storage, name) for name in ("transactions", *AGGREGATES, "quarantine")}


def _partitions(storage: Storage) -> dict[str, dict[str, tuple[str, int]]]:
    folder = storage.path("transactions")
    return {p.name: _files(p) for p in sorted(folder.iterdir()) if p.name.startswith("sale_")}


def test_rerun_gives_identical_rows_and_leaves_other_partitions_untouched(
    spark, raw_settings: Settings
) -> None:
    storage = Storage(raw_settings.storage.root)
    first = run_batch(spark, raw_settings)
    before, parts_before = _state(storage), _partitions(storage)

    day = dt.date(2026, 3, 4)  # the last file: its late rows belong to earlier days
    partial = run_batch(spark, raw_settings, dates=(day, day))
    after, parts_after = _state(storage), _partitions(storage)
    assert after == before
    recomputed = set(partial.partitions)
    assert f"sale_date={day}" in recomputed
    untouched = set(parts_before) - recomputed
    assert untouched, "the partial run should leave some partitions alone"
    for name in untouched:  # same bytes, and the very same files (hard links)
        assert parts_after[name] == parts_before[name]
    assert partial.counts["rows_read"] < first.counts["rows_read"]

    run_batch(spark, raw_settings)
    assert _state(storage) == before


def _aggregates(storage: Storage, name: str, root: Path | None = None) -> dict[tuple, dict]:
    """One aggregate table (published, or under `root`) in the oracle's shape."""
    return keyed(ds.dataset(root or storage.path(name), format="parquet").to_table().to_pylist())


def _assert_equals_oracle(storage: Storage) -> None:
    expected = expected_aggregates(read_truth(storage.path("raw")))
    for name in expected:  # every table the oracle computes
        assert _aggregates(storage, name) == expected[name], name


def test_partial_run_of_a_changed_day_keeps_other_days_rows(spark, raw_settings: Settings) -> None:
    storage = Storage(raw_settings.storage.root)
    run_batch(spark, raw_settings)
    # Drop every data row of the middle day's file; rerun that day only.
    day = dt.date(2026, 3, 3)
    path = storage.raw_day_path(day)
    path.write_text(path.read_text().split("\n", 1)[0] + "\n")
    run_batch(spark, raw_settings, dates=(day, day))
    # Every day, every table: the other days' rows carried over, and 2026-03-03 now holds
    # exactly the late rows of the 4th's file (the oracle reads the changed raw files).
    _assert_equals_oracle(storage)
    tx = ds.dataset(storage.path("transactions"), format="parquet", partitioning="hive")
    rows = tx.to_table(filter=ds.field("sale_date") == "2026-03-03").to_pylist()
    assert rows, "the 4th's file has late rows for 2026-03-03 (seed 7): the case under test"
    assert {r["source_file"] for r in rows} == {"transactions_2026-03-04.csv"}
    days = {r["sale_date"] for r in ds.dataset(storage.path("daily_sales")).to_table().to_pylist()}
    assert {dt.date(2026, 3, 2), dt.date(2026, 3, 4)} <= days


def _batch_process(root: Path, pause_marker: Path, log: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        RETAILPIPE_SPARK__MASTER="local[2]",
        RETAILPIPE_SPARK__SHUFFLE_PARTITIONS="2",
        RETAILPIPE_STORAGE__ROOT=str(root),
        RETAILPIPE_RUNTIME_DIR=str(root / ".runtime"),
        **{BEFORE_BATCH_PUBLISH: str(pause_marker)},
    )
    env.pop("RETAILPIPE_CONFIG", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "retailpipe", "-q", "batch"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _generate(root: Path, seed: int) -> None:
    params = GenerateSettings(
        days=2,
        rows_per_day=600,
        stores=3,
        products=30,
        seed=seed,
        start_date=dt.date(2026, 3, 2),
        bad_row_rate=0.02,
        workers=1,
    )
    generate(params, Storage(str(root)), force=True)


def _wait_for(marker: Path, process: subprocess.Popen, log: Path) -> None:
    """Until the run reaches the pause point (a deadline, not a timed assertion)."""
    deadline = time.monotonic() + PAUSE_TIMEOUT_S
    while not marker.exists():
        assert process.poll() is None, f"the run ended before its publish step: {log.read_text()}"
        assert time.monotonic() < deadline, f"no publish within {PAUSE_TIMEOUT_S:.0f} s"
        time.sleep(0.2)


@pytest.mark.integration
@pytest.mark.slow
def test_sigkill_just_before_the_publish_swap_leaves_the_old_data(spark, tmp_path: Path) -> None:
    root = tmp_path / "store"
    storage = Storage(str(root))
    settings = settings_for(root)
    _generate(root, seed=1)
    run_batch(spark, settings)
    old = _state(storage)
    _generate(root, seed=2)  # new input: a mix of versions would show
    marker, log = tmp_path / "paused", tmp_path / "batch.log"
    process = _batch_process(root, marker, log)
    try:
        _wait_for(marker, process, log)
        # The kill lands where it matters: the new version is written in full, not yet live.
        paused = [p for p in storage.path("versions").iterdir() if p.is_dir()]
        newest = max(paused, key=lambda p: p.name)
        expected = expected_aggregates(read_truth(storage.path("raw")))
        written = _aggregates(storage, "daily_sales", newest / "curated" / "daily_sales")
        assert written == expected["daily_sales"] != _aggregates(storage, "daily_sales")
    finally:
        processes.kill_group(process)  # SIGKILL: the Python driver and its Spark JVM together
    assert _state(storage) == old
    run_batch(spark, settings)  # the next run publishes the new input; the killed one is gone
    new = _state(storage)
    assert new != old
    _assert_equals_oracle(storage)
    versions = [p for p in storage.path("versions").iterdir() if p.is_dir()]
    assert newest not in versions and len(versions) <= 2
