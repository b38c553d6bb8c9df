"""The bad-input corpus (tests/corpus/files): one batch run over every file, then per file:
valid + quarantined + duplicates = rows read, and the right reason codes and line numbers.

Expected values are worked out by hand from the files (see the comments in each file's
row list below); nothing is computed with retailpipe code.
"""

from __future__ import annotations

import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from retailpipe.batch.job import run_batch
from retailpipe.settings import Settings
from retailpipe.storage import Storage

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

# file -> (rows read, valid, duplicates, {reason: [physical line numbers]})
EXPECTED: dict[str, tuple[int, int, int, dict[str, list[int]]]] = {
    "extra_columns.csv": (5, 3, 1, {"malformed_row": [6]}),
    "missing_columns.csv": (2, 2, 0, {}),
    "bad_values.csv": (
        12,
        1,
        0,
        {
            "bad_number": [2, 3],
            "bad_timestamp": [4, 5],
            "negative_price": [6],
            "zero_quantity": [7],
            "discount_out_of_range": [8],
            "unknown_store": [9],
            "unknown_product": [10],
            "missing_field": [11],
            "malformed_row": [12],
        },
    ),
    "quoted_newlines.csv": (4, 3, 0, {"bad_number": [5]}),
    "bom.csv": (1, 1, 0, {}),
    "latin1.csv": (1, 1, 0, {}),
    "empty.csv": (0, 0, 0, {}),
    "header_only.csv": (0, 0, 0, {}),
    "other_pos.csv": (3, 3, 0, {}),
    "amount_only.csv": (3, 2, 0, {"negative_price": [4]}),
    "unmappable.csv": (2, 0, 0, {"unmappable_file": [2, 3]}),
}


@pytest.fixture(scope="module")
def corpus_run(spark, tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import test_settings

    root = tmp_path_factory.mktemp("corpus")
    (root / "raw").mkdir()
    for dim in ("stores.csv", "products.csv"):
        shutil.copy(CORPUS / "dims" / dim, root / "raw" / dim)
    # The corpus is mostly bad on purpose: the quality gate would refuse it.
    settings: Settings = test_settings(root, **{"batch.max_invalid_fraction": 1.0})
    result = run_batch(spark, settings, input_uri=str(CORPUS / "files"))
    storage = Storage(str(root))
    tx = ds.dataset(storage.path("transactions"), format="parquet", partitioning="hive")
    quarantine = ds.dataset(storage.path("quarantine"), format="parquet").to_table().to_pylist()
    return result, tx.to_table().to_pylist(), quarantine


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_balances_with_the_right_reasons(corpus_run, name: str) -> None:
    result, transactions, quarantine = corpus_run
    rows_read, valid, duplicates, reasons = EXPECTED[name]
    inputs = {Path(i["file"]).name: i["rows"] for i in result.manifest["inputs"]}
    assert inputs[name] == rows_read
    got_valid = sum(1 for r in transactions if r["source_file"] == name)
    got_reasons: dict[str, list[int]] = {}
    for row in quarantine:
        if row["source_file"] == name:
            got_reasons.setdefault(row["reason"], []).append(row["line_number"])
    assert got_valid == valid
    assert {k: sorted(v) for k, v in got_reasons.items()} == reasons
    quarantined = sum(len(v) for v in reasons.values())
    assert got_valid + quarantined + duplicates == rows_read


def test_run_totals_balance(corpus_run) -> None:
    result, _, quarantine = corpus_run
    counts = result.counts
    assert counts["rows_read"] == sum(e[0] for e in EXPECTED.values())
    assert counts["valid"] + counts["quarantined"] + counts["duplicates"] == counts["rows_read"]
    assert counts["duplicates"] == 1
    assert counts["by_reason"] == dict(Counter(r["reason"] for r in quarantine))


def test_rejected_files_are_named_with_missing_columns(corpus_run) -> None:
    result, _, quarantine = corpus_run
    rejected = {r["file"]: r for r in result.manifest["rejected_files"]}
    assert set(rejected) == {"empty.csv", "unmappable.csv"}
    missing = rejected["unmappable.csv"]["missing_columns"]
    assert set(missing) == {
        "timestamp",
        "product_id",
        "quantity",
        "payment_method",
        "unit_price (or amount)",
    }
    detail = next(r["detail"] for r in quarantine if r["source_file"] == "unmappable.csv")
    assert "timestamp" in detail and "product_id" in detail


def test_quoted_newlines_keep_their_text_and_lines(corpus_run) -> None:
    _, transactions, quarantine = corpus_run
    bad = next(r for r in quarantine if r["source_file"] == "quoted_newlines.csv")
    assert bad["raw_line"] == (
        'Q2,1,2026-03-02T10:00:00-05:00,S001,P00002,electronics,x,59.99,0,card,,"three\nline\nnote"'
    )
    lines = sorted(
        r["source_line"] for r in transactions if r["source_file"] == "quoted_newlines.csv"
    )
    assert lines == [2, 4, 8]


def test_aliases_normalise_values_and_money(corpus_run) -> None:
    _, transactions, _ = corpus_run
    other = {
        (r["transaction_id"], r["line_no"]): r
        for r in transactions
        if r["source_file"] == "other_pos.csv"
    }
    first = other[("R-9", 1)]
    assert (first["gross_amount"], first["discount_amount"], first["net_amount"]) == (
        Decimal("59.99"),
        Decimal("15.00"),
        Decimal("44.99"),
    )  # 14.9975 rounds half-up
    assert first["hour"] == 14 and str(first["sale_date"]) == "2026-03-02"
    assert {r["payment_method"] for r in other.values()} == {"card", "cash"}
    missing = [r for r in transactions if r["source_file"] == "missing_columns.csv"]
    assert sorted(r["category"] for r in missing) == ["grocery", "home"]
    latin = next(r for r in transactions if r["source_file"] == "latin1.csv")
    assert latin["customer_id"] == "Ren\u00e9e"
    bom = next(r for r in transactions if r["source_file"] == "bom.csv")
    assert bom["transaction_id"] == "U1"


def test_amount_only_rows_use_amount_and_derived_ids(corpus_run) -> None:
    import hashlib

    _, transactions, _ = corpus_run
    rows = sorted(
        (r for r in transactions if r["source_file"] == "amount_only.csv"),
        key=lambda r: r["source_line"],
    )
    assert [r["net_amount"] for r in rows] == [Decimal("4.98"), Decimal("-24.99")]
    assert [r["gross_amount"] for r in rows] == [Decimal("4.98"), Decimal("-24.99")]
    assert all(r["unit_price"] is None for r in rows)
    expected = [
        "X" + hashlib.sha256(f"amount_only.csv:{r['source_line']}".encode()).hexdigest()[:20]
        for r in rows
    ]
    assert [r["transaction_id"] for r in rows] == expected
