"""generate -> the real batch job (Spark) -> the batch API, compared with the raw-CSV oracle."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from retailpipe.batch import job
from retailpipe.generate.run import generate
from retailpipe.serve import create_app
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage
from tests.serve import oracle
from tests.serve.batch_checks import check_view, get
from tests.serve.conftest import serve_settings

QUARANTINED_KINDS = {
    "malformed_row",
    "bad_number",
    "bad_timestamp",
    "negative_price",
    "zero_quantity",
}


@pytest.fixture(scope="module")
def batch_root(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Path:
    root = tmp_path_factory.mktemp("serve-e2e")
    params = GenerateSettings(
        days=3,
        start_date=dt.date(2026, 2, 9),
        stores=3,
        products=30,
        rows_per_day=300,
        seed=23,
        bad_row_rate=0.02,
        duplicate_rate=0.02,
        late_rate=0.02,
        workers=1,
    )
    generate(params, Storage(str(root)))
    job.run_batch(spark, serve_settings(root))
    return root


@pytest.fixture(scope="module")
def e2e_lines(batch_root: Path) -> list[oracle.Line]:
    return oracle.load_lines(batch_root)


@pytest.fixture
def e2e_client(batch_root: Path) -> FlaskClient:
    return create_app(serve_settings(batch_root), ["batch"]).test_client()


def test_default_view_equals_raw_csv_oracle(
    e2e_client: FlaskClient, e2e_lines: list[oracle.Line]
) -> None:
    check_view(e2e_client, e2e_lines)


def test_filtered_view_equals_raw_csv_oracle(
    e2e_client: FlaskClient, e2e_lines: list[oracle.Line]
) -> None:
    days = sorted({x.sale_date for x in e2e_lines})
    top_category = Counter(x.category for x in e2e_lines).most_common(1)[0][0]
    check_view(
        e2e_client, e2e_lines, start=days[-2], end=days[-1], store="S002", category=top_category
    )


def test_quality_panel_equals_generator_truth(
    e2e_client: FlaskClient, batch_root: Path, e2e_lines: list[oracle.Line]
) -> None:
    manifest = json.loads((batch_root / "raw" / "_manifest.json").read_text())
    defects = Counter(d["kind"] for d in manifest["defects"])
    quality = get(e2e_client, "/api/batch/quality")["quality"]
    quarantined = sum(n for kind, n in defects.items() if kind in QUARANTINED_KINDS)
    assert quality["rows_read"] == manifest["totals"]["rows"]
    assert quality["valid"] == len(e2e_lines)
    assert quality["quarantined"] == quarantined
    assert quality["duplicates"] == defects["duplicate"]
    assert {k: v for k, v in quality["by_reason"].items() if v} == {
        kind: n for kind, n in defects.items() if kind in QUARANTINED_KINDS
    }
    kpis = get(e2e_client, "/api/batch/kpis")["kpis"]
    assert kpis["quarantined_last_run"] == quarantined
