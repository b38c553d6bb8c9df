"""generate (with defects) -> batch; every figure checked against the independent oracle."""

from __future__ import annotations

import csv
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from retailpipe.batch.job import run_batch
from retailpipe.schemas import AGGREGATE_COLUMNS
from retailpipe.settings import Settings
from retailpipe.storage import AGGREGATES, Storage
from tests.batch.conftest import make_raw
from tests.batch.oracle import KEY_COLUMNS, expected_aggregates, read_truth
from tests.conftest import test_settings as settings_for  # not collected as a test

KEYS = (*KEY_COLUMNS, "transaction_id")  # split_receipts is keyed by receipt
COUNTS = ("transactions", "lines", "units")
DEFECT_REASONS = {"malformed_row", "bad_number", "bad_timestamp", "negative_price", "zero_quantity"}


def _table(path: Path) -> list[dict]:
    return ds.dataset(path, format="parquet").to_table().to_pylist()


@pytest.fixture(scope="module")
def batch_run(spark, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Any]:
    """One batch run over 3 generated days with defects, read by every test here (the run
    only reads its inputs, so one run serves them all)."""
    root = tmp_path_factory.mktemp("batch-e2e") / "store"
    make_raw(root)
    settings = settings_for(root)
    return settings, run_batch(spark, settings)


def test_aggregates_equal_the_oracle_to_the_cent(batch_run: tuple[Settings, Any]) -> None:
    settings, result = batch_run
    storage = Storage(settings.storage.root)
    truth = read_truth(storage.path("raw"))
    expected = expected_aggregates(truth)
    for name in AGGREGATES:
        columns = AGGREGATE_COLUMNS[name]
        keys = [c for c in columns if c in KEYS]
        got = {}
        for row in _table(storage.path(name)):
            key = tuple(row[k].isoformat() if k == "sale_date" else row[k] for k in keys)
            got[key] = {m: row[m] for m in columns if m not in keys}
        assert got == expected[name], name
    assert result.counts["valid"] == len(truth.lines)


def test_counts_match_the_generator_manifest(batch_run: tuple[Settings, Any]) -> None:
    settings, result = batch_run
    storage = Storage(settings.storage.root)
    generated = json.loads(storage.path("manifest").read_text())
    kinds = Counter(d["kind"] for d in generated["defects"])
    counts = result.counts
    assert counts["by_reason"] == {k: v for k, v in kinds.items() if k in DEFECT_REASONS}
    assert counts["duplicates"] == kinds["duplicate"]
    assert counts["rows_read"] == generated["totals"]["rows"]
    assert counts["valid"] + counts["quarantined"] + counts["duplicates"] == counts["rows_read"]
    assert counts["valid"] == generated["totals"]["valid_lines"]
    # Each quarantined row names the file and physical line the generator broke.
    quarantine = {
        (r["source_file"], r["line_number"]): r for r in _table(storage.path("quarantine"))
    }
    broken = {
        (d["file"], d["line_number"]): d["kind"]
        for d in generated["defects"]
        if d["kind"] in DEFECT_REASONS
    }
    assert {k: r["reason"] for k, r in quarantine.items()} == broken
    raw_lines = {
        name: (storage.path("raw") / name).read_text().split("\n") for name, _ in quarantine
    }
    for (name, line), row in quarantine.items():
        assert row["raw_line"] == raw_lines[name][line - 1]


def test_late_rows_land_in_their_true_sale_date(batch_run: tuple[Settings, Any]) -> None:
    storage = Storage(batch_run[0].storage.root)
    generated = json.loads(storage.path("manifest").read_text())
    per_day = {r["sale_date"].isoformat(): r for r in _table(storage.path("daily_sales"))}
    for day, truth in generated["sale_dates"].items():
        assert per_day[day]["lines"] == truth["valid_lines"]
        assert per_day[day]["units"] == truth["units"]
        assert per_day[day]["net_revenue"] == Decimal(truth["net_revenue"])
    late = [d for d in generated["defects"] if d["kind"] == "late_row"]
    assert late
    table = ds.dataset(storage.path("transactions"), format="parquet", partitioning="hive")
    rows = table.to_table(columns=["transaction_id", "line_no", "sale_date"]).to_pylist()
    where = {(r["transaction_id"], r["line_no"]): str(r["sale_date"]) for r in rows}
    for defect in late:
        assert where[(defect["transaction_id"], defect["line_no"])] == defect["sale_date"]


def test_outputs_are_typed_parquet_and_csv(batch_run: tuple[Settings, Any]) -> None:
    import pyarrow as pa

    storage = Storage(batch_run[0].storage.root)
    schema = pq.read_schema(next(storage.path("daily_sales").glob("*.parquet")))
    assert schema.field("sale_date").type == pa.date32()
    assert schema.field("net_revenue").type == pa.decimal128(18, 2)
    assert schema.field("transactions").type == pa.int64()
    tx = ds.dataset(storage.path("transactions"), format="parquet", partitioning="hive")
    assert tx.schema.field("net_amount").type == pa.decimal128(12, 2)
    expected = expected_aggregates(read_truth(storage.path("raw")))
    for name in expected:  # every table the oracle computes
        assert _csv_table(storage.path("curated_csv", f"{name}.csv"), name) == expected[name]
    manifest = json.loads(Path(storage.path("runs")).glob("batch-*.json").__next__().read_text())
    assert manifest["status"] == "succeeded"
    assert set(manifest["outputs"]) >= {"transactions", *AGGREGATES}


def _csv_table(path: Path, name: str) -> dict[tuple, dict[str, object]]:
    """A curated CSV read with plain `csv` and `decimal`, keyed as the oracle keys it: the
    header is the contract's columns, and every value is the oracle's, to the cent."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    columns = list(AGGREGATE_COLUMNS[name])
    assert rows[0] == columns, name
    keys = [c for c in columns if c in KEYS]
    out = {}
    for row in rows[1:]:
        record = dict(zip(columns, row, strict=True))
        key = tuple(int(record[k]) if k == "hour" else record[k] for k in keys)
        out[key] = {
            m: int(record[m]) if m in COUNTS else Decimal(record[m])
            for m in columns
            if m not in keys
        }
    return out
