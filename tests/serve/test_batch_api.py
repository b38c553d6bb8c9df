"""The batch JSON API against curated Parquet shaped like the batch job's, checked with the
plain-Python oracle; the real batch job is exercised in test_batch_e2e.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from flask.testing import FlaskClient

from retailpipe.serve import create_app
from retailpipe.storage import Storage
from tests.serve import oracle
from tests.serve.batch_checks import check_view, get
from tests.serve.conftest import serve_settings
from tests.serve.curated import write_curated, write_run


def test_default_view_matches_oracle(client: FlaskClient, lines: list[oracle.Line]) -> None:
    check_view(client, lines)


def test_filtered_view_matches_oracle(client: FlaskClient, lines: list[oracle.Line]) -> None:
    days = sorted({x.sale_date for x in lines})
    check_view(client, lines, start=days[1], end=days[2], store="S002", category="grocery")


def test_store_only_and_date_only_views(client: FlaskClient, lines: list[oracle.Line]) -> None:
    days = sorted({x.sale_date for x in lines})
    check_view(client, lines, store="S003")
    check_view(client, lines, start=days[2], end=days[-1])


def test_tile_changes_match_oracle(client: FlaskClient, lines: list[oracle.Line]) -> None:
    days = sorted({x.sale_date for x in lines})
    start, end = days[-2], days[-1]
    before_start, before_end = start - dt.timedelta(days=2), start - dt.timedelta(days=1)
    assert before_start >= days[0], "the fixture must hold a whole previous period"
    for store in (None, "S001"):
        body = get(client, "/api/batch/kpis", start=start, end=end, store=store)
        now = oracle.select(lines, start, end, store)
        before = oracle.select(lines, before_start, before_end, store)
        assert body["change"] == oracle.kpi_changes(now, before)
        assert body["previous"]["start"] == before_start.isoformat()
        assert body["previous"]["end"] == before_end.isoformat()
        assert body["previous"]["kpis"] == oracle.kpis(before)
    assert any(v not in (None, "0.0000") for v in body["change"].values())


def test_no_tile_change_without_a_whole_previous_period(client: FlaskClient) -> None:
    body = get(client, "/api/batch/kpis")
    assert body["previous"] is None
    assert set(body["change"]) >= {"net_revenue", "return_rate"}
    assert set(body["change"].values()) == {None}


def test_quarantined_tile_and_quality_panel_come_from_the_latest_run(
    client: FlaskClient,
) -> None:
    assert get(client, "/api/batch/kpis")["kpis"]["quarantined_last_run"] == 2
    quality = get(client, "/api/batch/quality")["quality"]
    assert (quality["rows_read"], quality["quarantined"], quality["duplicates"]) == (
        quality["valid"] + 3,
        2,
        1,
    )
    assert quality["by_reason"] == {"bad_number": 1, "malformed_row": 1}


def test_csv_download_holds_the_chart_rows(client: FlaskClient, lines: list[oracle.Line]) -> None:
    response = client.get("/api/batch/stores.csv?store=S001")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    first, last = min(x.sale_date for x in lines), max(x.sale_date for x in lines)
    expected = sum(x.net for x in oracle.select(lines, first, last, store="S001"))
    assert [(r["store_id"], Decimal(r["net_revenue"])) for r in rows] == [("S001", expected)]


def test_no_data_page_names_the_command(tmp_path: Path) -> None:
    client = create_app(serve_settings(tmp_path)).test_client()
    page = client.get("/batch/")
    assert page.status_code == 200
    assert "retailpipe generate &amp;&amp; retailpipe batch" in page.get_data(as_text=True)
    api = client.get("/api/batch/kpis")
    assert api.status_code == 404
    assert "retailpipe batch" in api.get_json()["fix"]


def test_new_data_is_picked_up_without_restart(tmp_path: Path, lines: list[oracle.Line]) -> None:
    storage = Storage(str(tmp_path))
    first_day = min(x.sale_date for x in lines)
    write_curated(
        storage, [x for x in lines if x.sale_date == first_day], partition_aggregates=True
    )
    client = create_app(serve_settings(tmp_path)).test_client()
    before = get(client, "/api/batch/kpis")["kpis"]
    assert before["lines"] == sum(1 for x in lines if x.sale_date == first_day)
    write_curated(storage, lines, partition_aggregates=True)
    write_run(storage, {"status": "failed", "counts": {}})
    after = get(client, "/api/batch/kpis")["kpis"]
    assert after == {**oracle.kpis(lines), "quarantined_last_run": 2}
    assert get(client, "/api/batch/quality")["quality"]["latest_attempt"]["status"] == "failed"


def test_batch_page_renders_filters_and_quality(client: FlaskClient) -> None:
    page = client.get("/batch/?store=S002&category=grocery")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<option value="S002" selected>' in html
    assert '<option value="grocery" selected>' in html
    assert "/api/batch/daily.csv?store=S002&amp;category=grocery" in html
    assert "Quarantined rows by reason" in html
