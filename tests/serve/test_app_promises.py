"""Promises of docs/api.md not held elsewhere: `/` redirects to the first dashboard served,
every answer carries X-Frame-Options, `/api/batch/options` lists what the filters accept and
`?limit=` cuts the products chart, all against the plain-Python oracle."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from retailpipe.serve import create_app
from tests.serve import oracle
from tests.serve.batch_checks import get, sorted_by_revenue
from tests.serve.conftest import serve_settings


@pytest.mark.parametrize(
    ("dashboards", "target"),
    [(("batch", "stream"), "/batch/"), (("stream", "batch"), "/batch/"), (("stream",), "/stream/")],
)
def test_root_redirects_to_the_first_dashboard_served(
    curated_root: Path, dashboards: tuple[str, ...], target: str
) -> None:
    app = create_app(serve_settings(curated_root), dashboards)
    response = app.test_client().get("/")
    assert response.status_code in (301, 302, 303, 307, 308)
    assert response.headers["Location"].endswith(target)
    assert app.test_client().get(response.headers["Location"]).status_code == 200


@pytest.mark.parametrize("path", ["/batch/", "/api/batch/kpis", "/api/batch/nothing-here", "/"])
def test_every_answer_refuses_to_be_framed(client: FlaskClient, path: str) -> None:
    assert client.get(path).headers.get("X-Frame-Options") == "DENY"


def test_options_list_the_data_range_stores_and_categories(
    client: FlaskClient, curated_root: Path, lines: list[oracle.Line]
) -> None:
    with (curated_root / "raw" / "stores.csv").open(newline="", encoding="utf-8") as handle:
        names = {
            r["store_id"]: r.get("store_name") or r.get("name") or r["store_id"]
            for r in csv.DictReader(handle)
        }
    stores = sorted({x.store_id for x in lines})
    assert get(client, "/api/batch/options") == {
        "min_date": min(x.sale_date for x in lines).isoformat(),
        "max_date": max(x.sale_date for x in lines).isoformat(),
        "stores": [{"id": s, "name": names[s]} for s in stores],
        "categories": sorted({x.category for x in lines}),
    }


@pytest.mark.parametrize("limit", [1, 3, None, 100])
def test_limit_cuts_the_products_chart_to_the_best_sellers(
    client: FlaskClient, lines: list[oracle.Line], limit: int | None
) -> None:
    body = get(client, "/api/batch/products", limit=limit)
    filters = body["filters"]
    start, end = dt.date.fromisoformat(filters["start"]), dt.date.fromisoformat(filters["end"])
    ranked = sorted_by_revenue(oracle.by(oracle.select(lines, start, end), lambda x: x.product_id))
    expected = ranked[: 10 if limit is None else limit]  # docs/api.md: default 10
    assert len(ranked) > 10, "the fixture must hold more products than the default shows"
    got = [(r["product_id"], Decimal(r["net_revenue"]), r["units"]) for r in body["rows"]]
    assert got == expected
