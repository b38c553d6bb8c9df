"""generate (with defects) -> batch; every figure checked against the independent oracle."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from retailpipe.batch.job import run_batch
from retailpipe.schemas import AGGREGATE_COLUMNS
from retailpipe.settings import Settings
from retailpipe.storage import AGGREGATES, Storage
from tests.batch.oracle import expected_aggregates, read_truth

DEFECT_REASONS = {"malformed_row", "bad_number", "bad_timestamp", "negative_price", "zero_quantity"}


def _table(path: Path) -> list[dict]:
    return ds.dataset(path, format="parquet").to_table().to_pylist()


def test_aggregates_equal_the_oracle_to_the_cent(spark, raw_settings: Settings) -> None:
    storage = Storage(raw_settings.storage.root)
    result = run_batch(spark, raw_settings)
    truth = read_truth(storage.path("raw"))
    expected = expected_aggregates(truth)
    for name in AGGREGATES:
        columns = AGGREGATE_COLUMNS[name]
        keys = [
            c
            for c in columns
            if c in ("sale_date", "store_id", "category", "product_id", "payment_method", "hour")
        ]
        got = {}
        for row in _table(storage.path(name)):
            key = tuple(row[k].isoformat() if k == "sale_date" else row[k] for k in keys)
            got[key] = {m: row[m] for m in columns if m not in keys}
        assert got == expected[name], name
    assert result.counts["valid"] == len(truth.lines)


def test_counts_match_the_generator_manifest(spark, raw_settings: Settings) -> None:
    storage = Storage(raw_settings.storage.root)
    result = run_batch(spark, raw_settings)
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


def test_late_rows_land_in_their_true_sale_date(spark, raw_settings: Settings) -> None:
    storage = Storage(raw_settings.storage.root)
    run_batch(spark, raw_settings)
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


def test_outputs_are_typed_parquet_and_csv(spark, raw_settings: Settings) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    storage = Storage(raw_settings.storage.root)
    run_batch(spark, raw_settings)
    schema = pq.read_schema(next(storage.path("daily_sales").glob("*.parquet")))
    assert schema.field("sale_date").type == pa.date32()
    assert schema.field("net_revenue").type == pa.decimal128(18, 2)
    assert schema.field("transactions").type == pa.int64()
    tx = ds.dataset(storage.path("transactions"), format="parquet", partitioning="hive")
    assert tx.schema.field("net_amount").type == pa.decimal128(12, 2)
    for name in AGGREGATES:
        parquet_rows = pq.read_table(storage.path(name)).num_rows
        csv_table = pacsv.read_csv(storage.path("curated_csv", f"{name}.csv"))
        assert csv_table.column_names == list(AGGREGATE_COLUMNS[name])
        assert csv_table.num_rows == parquet_rows
    manifest = json.loads(Path(storage.path("runs")).glob("batch-*.json").__next__().read_text())
    assert manifest["status"] == "succeeded"
    assert set(manifest["outputs"]) >= {"transactions", *AGGREGATES}
