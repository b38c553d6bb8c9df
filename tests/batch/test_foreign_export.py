"""A foreign till export, hand-written (tests/corpus/foreign/): other column names and case,
times without a UTC offset across the 2025 British summer-time change, amount-only rows, no
receipt ids and no dimension files.

It goes through with one setting (`--timezone Europe/London`), and without it the quality
gate refuses to publish. Expected figures: an independent csv + decimal sum of the `Total`
column per day, checked against sums worked out by hand.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from retailpipe.cli.app import app

pytestmark = pytest.mark.integration

FOREIGN = Path(__file__).resolve().parents[1] / "corpus" / "foreign"
EXPORT = FOREIGN / "till_export.csv"
runner = CliRunner()


def _daily_totals(path: Path) -> dict[str, Decimal]:
    """The oracle: the sum of `Total` per calendar day as written in `Order Time`."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            totals[row["Order Time"][:10]] += Decimal(row["Total"])
    return dict(totals)


def _daily_sales(root: Path) -> dict[str, Decimal]:
    table = ds.dataset(root / "curated" / "daily_sales", format="parquet").to_table()
    return {r["sale_date"].isoformat(): r["net_revenue"] for r in table.to_pylist()}


def _manifests(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "runs").glob("batch-*.json"))]


def test_the_oracle_agrees_with_the_sums_worked_out_by_hand() -> None:
    assert _daily_totals(EXPORT) == {
        "2025-03-29": Decimal("25.59"),
        "2025-03-30": Decimal("33.74"),
        "2025-03-31": Decimal("55.57"),
    }


def test_without_a_zone_the_gate_refuses_and_says_how_to_fix_it(spark, tmp_path: Path) -> None:
    root = tmp_path / "shop"
    result = runner.invoke(app, ["batch", "--root", str(root), "--input", str(EXPORT)])
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.output
    # 12 of 14 rows have no offset; the two with one (Z, +01:00) were valid.
    assert "86% of the 14 rows read were quarantined" in error[0]
    assert "bad_timestamp (no UTC offset) 12" in error[0]
    assert "Fix: set batch.timezone" in error[0]
    assert "Traceback" not in result.output
    assert not (root / "curated").exists()  # nothing curated published
    quarantine = ds.dataset(root / "quarantine", format="parquet").to_table().to_pylist()
    assert len(quarantine) == 12
    assert {q["detail"].split(" has ")[1] for q in quarantine} == {
        "no UTC offset; set batch.timezone"
    }
    (manifest,) = _manifests(root)
    assert manifest["status"] == "refused"
    assert manifest["gate"] == {"invalid_fraction": round(12 / 14, 6), "max_invalid_fraction": 0.05}


def test_with_the_zone_every_day_equals_the_sum_of_its_amounts(spark, tmp_path: Path) -> None:
    root = tmp_path / "shop"
    args = ["batch", "--root", str(root), "--input", str(EXPORT), "--timezone", "Europe/London"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "none: ids taken from the data" in result.output
    assert "114.90" in result.output  # net revenue: 25.59 + 33.74 + 55.57
    assert _daily_sales(root) == _daily_totals(EXPORT)

    lines = ds.dataset(root / "curated" / "transactions", format="parquet").to_table()
    by_text = {(r["timestamp"], r["store_id"]): r for r in lines.to_pylist()}
    assert len(by_text) == 14
    utc = {key: r["event_ts"].astimezone(dt.UTC).strftime("%H:%M:%S") for key, r in by_text.items()}
    # Worked out by hand: GMT (UTC+0) until 01:00 on 30 March 2025, BST (UTC+1) after.
    assert utc[("2025-03-29 23:59:59", "MAN-02")] == "23:59:59"
    assert utc[("2025-03-30 00:30:00", "LDN-01")] == "00:30:00"
    assert utc[("2025-03-30 03:00:00", "MAN-02")] == "02:00:00"
    assert utc[("2025-03-31 08:00:01", "LDN-01")] == "07:00:01"
    assert utc[("2025-03-31 13:30:00+01:00", "MAN-02")] == "12:30:00"  # its own offset
    # Stores and products come from the data, named by their ids; no receipt ids: derived.
    row = by_text[("2025-03-30 15:00:00", "LDN-01")]
    assert (row["store_name"], row["product_name"], row["payment_method"]) == (
        "LDN-01",
        "MUG-007",
        "gift_card",
    )
    (manifest,) = _manifests(root)
    assert manifest["dimensions"]["stores"] == "none: ids taken from the data"
    assert manifest["counts"]["net_revenue"] == "114.90"

    # An export the gate refuses leaves the published figures as they were.
    bad = runner.invoke(
        app, ["batch", "--root", str(root), "--input", str(FOREIGN / "all_bad.csv")]
    )
    assert bad.exit_code == 2 and "nothing was published" in bad.output, bad.output
    assert _daily_sales(root) == _daily_totals(EXPORT)
    # --allow-invalid publishes anyway: the day of the bad file stays empty (all quarantined).
    forced = ["batch", "--root", str(root), "--input", str(FOREIGN / "all_bad.csv")]
    assert runner.invoke(app, [*forced, "--allow-invalid"]).exit_code == 0
    assert _daily_sales(root) == _daily_totals(EXPORT)
