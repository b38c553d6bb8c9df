"""Compare every batch API figure with the plain-Python oracle (shared by the fake-batch and
the real-batch tests)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient

from tests.serve import oracle
from tests.serve.oracle import Line, money


def get(client: FlaskClient, path: str, **params: Any) -> Any:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    response = client.get(f"{path}?{query}" if query else path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def sorted_by_revenue(table: dict[Any, tuple[Decimal, int]]) -> list[tuple[Any, Decimal, int]]:
    rows = [(k, net, units) for k, (net, units) in table.items()]
    rows.sort(key=lambda r: (-r[1], str(r[0])))
    return rows


def check_view(
    client: FlaskClient,
    all_lines: list[Line],
    start: dt.date | None = None,
    end: dt.date | None = None,
    store: str | None = None,
    category: str | None = None,
) -> None:
    """Every KPI and chart series of one view equals the oracle's."""
    first = min(x.sale_date for x in all_lines)
    last = max(x.sale_date for x in all_lines)
    lo, hi = start or first, end or last
    params = {
        "start": start and start.isoformat(),
        "end": end and end.isoformat(),
        "store": store,
        "category": category,
    }
    view = oracle.select(all_lines, lo, hi, store, category)
    assert view, "the test view must hold some lines"

    body = get(client, "/api/batch/kpis", **params)
    assert body["filters"] == {
        "start": lo.isoformat(),
        "end": hi.isoformat(),
        "store": store,
        "category": category,
    }
    got = {k: v for k, v in body["kpis"].items() if k != "quarantined_last_run"}
    assert got == oracle.kpis(view)

    days = (hi - lo).days + 1
    daily = get(client, "/api/batch/daily", **params)["rows"]
    by_day = oracle.by(view, lambda x: x.sale_date)
    previous = oracle.by(
        oracle.select(
            all_lines, lo - dt.timedelta(days=days), lo - dt.timedelta(days=1), store, category
        ),
        lambda x: x.sale_date,
    )
    expected_daily = []
    for i in range(days):
        day, prior = lo + dt.timedelta(days=i), lo - dt.timedelta(days=days - i)
        expected_daily.append(
            {
                "sale_date": day.isoformat(),
                "net_revenue": money(by_day.get(day, (Decimal(0), 0))[0]),
                "previous_date": prior.isoformat(),
                "previous_net_revenue": money(previous.get(prior, (Decimal(0), 0))[0])
                if prior >= first
                else None,
            }
        )
    assert daily == expected_daily

    for chart, key, attr in (
        ("stores", "store_id", "store_id"),
        ("categories", "category", "category"),
        ("products", "product_id", "product_id"),
    ):
        rows = get(client, f"/api/batch/{chart}", **params)["rows"]
        expected = sorted_by_revenue(oracle.by(view, lambda x, a=attr: getattr(x, a)))
        if chart == "products":
            expected = expected[:10]
        assert [(r[key], Decimal(r["net_revenue"]), r["units"]) for r in rows] == expected, chart

    payments = get(client, "/api/batch/payments", **params)["rows"]
    pay = sorted_by_revenue(oracle.by(view, lambda x: x.payment_method))
    total = sum(net for _, net, _ in pay)
    assert [(r["payment_method"], r["net_revenue"], r["share"]) for r in payments] == [
        (k, money(net), oracle.ratio(net, total)) for k, net, _ in pay
    ]

    heat = get(client, "/api/batch/heatmap", **params)["rows"]
    cells = oracle.by(view, lambda x: (x.sale_date.weekday(), x.hour))
    assert len(heat) == 7 * 24
    for cell in heat:
        expected_net = cells.get((cell["weekday"], cell["hour"]), (Decimal(0), 0))[0]
        assert cell["net_revenue"] == money(expected_net), cell
