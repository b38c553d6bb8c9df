"""Idempotence (reruns give the same rows, untouched partitions keep their bytes) and kill
safety (SIGKILL mid-run never leaves readers with half a version)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from retailpipe.batch.job import run_batch
from retailpipe.generate.run import generate
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import AGGREGATES, Storage


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


def test_partial_run_of_a_changed_day_keeps_other_days_rows(spark, raw_settings: Settings) -> None:
    storage = Storage(raw_settings.storage.root)
    run_batch(spark, raw_settings)
    before = {
        r["sale_date"]: r for r in ds.dataset(storage.path("daily_sales")).to_table().to_pylist()
    }
    # Drop every data row of the middle day's file; rerun that day only.
    day = dt.date(2026, 3, 3)
    path = storage.raw_day_path(day)
    path.write_text(path.read_text().split("\n", 1)[0] + "\n")
    run_batch(spark, raw_settings, dates=(day, day))
    after = {
        r["sale_date"]: r for r in ds.dataset(storage.path("daily_sales")).to_table().to_pylist()
    }
    assert after[dt.date(2026, 3, 4)] == before[dt.date(2026, 3, 4)]
    # 2026-03-03 now holds only late rows from the 4th's file.
    tx = ds.dataset(storage.path("transactions"), format="parquet", partitioning="hive")
    rows = tx.to_table(filter=ds.field("sale_date") == "2026-03-03").to_pylist()
    assert {r["source_file"] for r in rows} <= {"transactions_2026-03-04.csv"}
    assert after.get(dt.date(2026, 3, 3), {"lines": 0})["lines"] == len(rows)
    assert (
        sum((r["net_amount"] for r in rows), Decimal(0))
        == after.get(dt.date(2026, 3, 3), {"net_revenue": Decimal(0)})["net_revenue"]
    )


def _batch_process(root: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        RETAILPIPE_SPARK__MASTER="local[2]",
        RETAILPIPE_SPARK__SHUFFLE_PARTITIONS="2",
        RETAILPIPE_STORAGE__ROOT=str(root),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "retailpipe", "-q", "batch"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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


@pytest.mark.integration
@pytest.mark.slow
def test_sigkill_mid_run_leaves_old_or_new_data(tmp_path: Path) -> None:
    root = tmp_path / "store"
    storage = Storage(str(root))
    _generate(root, seed=1)
    started = time.monotonic()
    assert _batch_process(root).wait(timeout=900) == 0
    duration = time.monotonic() - started
    old = _state(storage)
    _generate(root, seed=2)  # new input: a mix of versions would show
    seen = []
    rng = random.Random(5)
    for _ in range(3):
        process = _batch_process(root)
        try:
            process.wait(timeout=rng.uniform(0.4, 1.0) * duration)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        seen.append(_state(storage))
    assert _batch_process(root).wait(timeout=900) == 0
    new = _state(storage)
    assert new != old
    for state in seen:
        assert state in (old, new)
    versions = [p for p in storage.path("versions").iterdir() if p.is_dir()]
    assert len(versions) <= 2  # killed runs' leftovers are collected
