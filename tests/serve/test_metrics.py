"""`GET /metrics` after a real batch, stream and reconcile: parsed with prometheus_client's
own text parser, each metric equals the manifest (or the stream's store file) it comes from."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from prometheus_client.parser import text_string_to_metric_families

from retailpipe.reconcile.model import Span
from retailpipe.reconcile.run import reconcile
from retailpipe.reconcile.source import Source
from retailpipe.serve import create_app
from retailpipe.storage import Storage
from tests.conftest import test_settings as settings_for
from tests.reconcile.pipeline import Pipeline, build

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def pipeline(spark, kafka_broker, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return build(spark, kafka_broker, tmp_path_factory.mktemp("reconcile-root"))


def _newest(root: Path, job: str) -> dict:
    names = sorted((root / "runs").glob(f"{job}-*.json"))
    assert names, f"no {job} manifest"
    return json.loads(names[-1].read_text())


def _unix(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def _scrape(root: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    app = create_app(settings_for(root, **{"serve.refresh_s": 0}))
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_each_metric_equals_its_manifest(pipeline: Pipeline) -> None:
    root = pipeline.root
    reconcile(Source(Storage(str(root))), Span())
    batch, stream, checked = (_newest(root, job) for job in ("batch", "stream", "reconcile"))
    stores = pq.read_table(root / "stream_stores" / "stores.parquet").to_pylist()

    scraped = _scrape(root)

    expected: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {
        ("retailpipe_batch_last_success_timestamp_seconds", ()): _unix(batch["finished_at"]),
        ("retailpipe_stream_last_batch_timestamp_seconds", ()): _unix(stream["updated_at"]),
        ("retailpipe_stream_running", ()): 0.0,
        ("retailpipe_reconcile_unexplained_hours", ()): float(checked["unexplained_hours"]),
        ("retailpipe_reconcile_last_run_timestamp_seconds", ()): _unix(checked["finished_at"]),
    }
    for outcome, key in (
        ("valid", "valid"),
        ("quarantined", "quarantined"),
        ("duplicate", "duplicates"),
    ):
        expected[("retailpipe_batch_rows", (("outcome", outcome),))] = float(batch["counts"][key])
    for outcome, key in (
        ("counted", "events"),
        ("late", "late_events"),
        ("duplicate", "duplicates"),
        ("dead_letter", "dead_letter_events"),
    ):
        expected[("retailpipe_stream_events_total", (("outcome", outcome),))] = float(stream[key])
    for row in stores:
        expected[
            ("retailpipe_stream_watermark_timestamp_seconds", (("store_id", row["store_id"]),))
        ] = row["watermark"].timestamp()
    assert scraped == expected
    # The case is reached: every outcome has something to count.
    assert all(
        value > 0 for (name, _), value in scraped.items() if "rows" in name or "events" in name
    )


def test_an_empty_root_exposes_the_metrics_without_samples(tmp_path: Path) -> None:
    assert _scrape(tmp_path) == {}
