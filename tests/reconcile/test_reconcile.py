"""`retailpipe reconcile` against a real batch and a real stream over the same generated
days: the explained differences are exactly the injected defects, and a tampered curated
file or a dropped window is named, store and hour."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.reconcile import oracle
from tests.reconcile.pipeline import Pipeline

pytestmark = pytest.mark.integration


def _reconcile(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RETAILPIPE_STORAGE__ROOT=str(root), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "retailpipe", "reconcile", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _key(diff: dict) -> oracle.Key:
    return diff["store_id"], dt.datetime.fromisoformat(diff["hour"].replace("Z", "+00:00"))


def _iso(key: oracle.Key) -> str:
    return f"{key[1]:%Y-%m-%dT%H:%M}Z"


def test_every_difference_is_an_injected_defect(pipeline: Pipeline) -> None:
    truth = oracle.read(pipeline.root)
    compared = truth.compared()
    differing = truth.differing()
    assert differing, "no late row changed an hour: the test misses its case"

    done = _reconcile(pipeline.root, "--json")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["hours"]["compared"] == len(compared)
    assert report["hours"]["unexplained"] == 0
    assert report["hours"]["explained"] == len(differing)
    assert report["hours"]["agree"] == len(compared) - len(differing)
    assert {_key(diff) for diff in report["differences"]} == differing
    assert all("late" in diff["reasons"] for diff in report["differences"])
    in_scope = set(compared)
    assert report["set_aside"] == {
        "late": sum(n for key, n in truth.late.items() if key in in_scope),
        "dead_letter": sum(n for key, n in truth.dead_letter.items() if key in in_scope),
        "quarantined": sum(n for key, n in truth.quarantined.items() if key in in_scope),
    }
    assert report["set_aside"]["dead_letter"] > 0 and report["set_aside"]["quarantined"] > 0
    manifest = pipeline.root / "runs" / f"reconcile-{report['run_id']}.json"
    assert json.loads(manifest.read_text())["unexplained_hours"] == 0


def _quiet_hour(truth: oracle.Truth) -> oracle.Key:
    """A compared hour where both paths agree and neither set anything aside."""
    for key in truth.compared():
        if key in truth.differing() or key not in truth.batch:
            continue
        if not (truth.late[key] or truth.dead_letter[key] or truth.quarantined[key]):
            return key
    raise AssertionError("no quiet hour to tamper with")


def _copy(pipeline: Pipeline, tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(pipeline.root, root, symlinks=True)
    return root


def test_a_tampered_curated_file_is_named(pipeline: Pipeline, tmp_path: Path) -> None:
    truth = oracle.read(pipeline.root)
    store, start = key = _quiet_hour(truth)
    root = _copy(pipeline, tmp_path)
    local_day = (root / "curated" / "transactions").glob("sale_date=*/*.parquet")
    for path in sorted(local_day):
        table = pq.read_table(path)
        ts = table["event_ts"]
        hit = pc.and_(
            pc.equal(table["store_id"], store),
            pc.equal(pc.floor_temporal(ts, unit="hour"), pa.scalar(start, ts.type)),
        )
        if pc.any(hit).as_py():
            first = pc.index(hit, True).as_py()
            amounts = table["net_amount"].to_pylist()
            amounts[first] += Decimal("1.00")
            column = table.schema.get_field_index("net_amount")
            table = table.set_column(
                column, "net_amount", pa.array(amounts, table["net_amount"].type)
            )
            path.unlink()  # a hard link shared with the original: write a new file
            pq.write_table(table, path)
            break
    else:
        raise AssertionError(f"no curated line for {key}")

    done = _reconcile(root)

    assert done.returncode == 1, done.stdout + done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert "1 store-hour(s) differ" in error
    assert f"store {store} at {_iso(key)}" in error


def test_a_dropped_window_is_named(pipeline: Pipeline, tmp_path: Path) -> None:
    truth = oracle.read(pipeline.root)
    store, start = key = _quiet_hour(truth)
    root = _copy(pipeline, tmp_path)
    path = root / "stream" / f"windows-{start:%Y-%m-%d}.parquet"
    table = pq.read_table(path)
    drop = pc.and_(
        pc.equal(table["store_id"], store),
        pc.equal(table["window_start"], pa.scalar(start, table["window_start"].type)),
    )
    assert pc.sum(pc.cast(drop, pa.int64())).as_py() == 1
    pq.write_table(table.filter(pc.invert(drop)), path)

    done = _reconcile(root, "--date", f"{start:%Y-%m-%d}")

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"store {store} at {_iso(key)}" in done.stderr.strip().splitlines()[-1]
