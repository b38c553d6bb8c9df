"""The batch dashboard Blueprint: the page, its JSON API and CSV downloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request

from retailpipe.serve import batch_metrics as metrics
from retailpipe.serve.data import catalog
from retailpipe.serve.query import parse_batch_query, parse_int
from retailpipe.serve.respond import csv_response, no_data

bp = Blueprint("batch", __name__)

NO_DATA_FIX = "run `retailpipe generate && retailpipe batch`, then reload this page"
PRODUCT_LIMIT = 10

# chart name -> (rows for a view, CSV columns)
CHARTS: dict[str, tuple[Callable[..., list[dict[str, Any]]], tuple[str, ...]]] = {
    "daily": (metrics.daily, ("sale_date", "net_revenue", "previous_date", "previous_net_revenue")),
    "stores": (metrics.stores, ("store_id", "store_name", "net_revenue", "units")),
    "categories": (metrics.categories, ("category", "net_revenue", "units")),
    "products": (metrics.products, ("product_id", "product_name", "net_revenue", "units")),
    "payments": (metrics.payments, ("payment_method", "net_revenue", "share")),
    "heatmap": (metrics.heatmap, ("weekday", "weekday_name", "hour", "net_revenue")),
}


def _view() -> metrics.View:
    return metrics.resolve(catalog(), parse_batch_query(request.args))


def _chart_rows(name: str) -> tuple[metrics.View, list[dict[str, Any]]]:
    compute, _ = CHARTS[name]
    view = _view()
    if name == "products":
        limit = parse_int(request.args, "limit", PRODUCT_LIMIT, 1, 100)
        return view, compute(catalog(), view, limit)
    return view, compute(catalog(), view)


@bp.get("/batch/")
def page() -> Response | str:
    cat = catalog()
    if not metrics.has_data(cat):
        return render_template(
            "nodata.html",
            dashboard="batch",
            command=("retailpipe generate && retailpipe batch"),
            what="curated sales data",
        )
    view = _view()
    return render_template(
        "batch.html",
        view=view,
        view_days=(view.end - view.start).days + 1,
        options=metrics.options(cat),
        quality=metrics.quality(cat),
        charts=list(CHARTS),
        query=request.query_string.decode("ascii", "replace"),
    )


@bp.get("/api/batch/options")
def options() -> Response:
    if not metrics.has_data(catalog()):
        return no_data("curated sales data", NO_DATA_FIX)
    return jsonify(metrics.options(catalog()))


@bp.get("/api/batch/kpis")
def kpis() -> Response:
    if not metrics.has_data(catalog()):
        return no_data("curated sales data", NO_DATA_FIX)
    view = _view()
    return jsonify(
        filters=view.echo(),
        kpis=metrics.kpis(catalog(), view),
        **metrics.kpi_changes(catalog(), view),
    )


@bp.get("/api/batch/quality")
def quality() -> Response:
    found = metrics.quality(catalog())
    if found is None:
        return no_data("successful batch run", NO_DATA_FIX)
    return jsonify(quality=found)


@bp.get("/api/batch/<name>")
def chart(name: str) -> Response:
    """One chart's series as JSON (`/api/batch/daily`) or CSV (`/api/batch/daily.csv`)."""
    stem, dot, ext = name.partition(".")
    if stem not in CHARTS or (dot and ext != "csv"):
        abort(404)
    if not metrics.has_data(catalog()):
        return no_data("curated sales data", NO_DATA_FIX)
    view, rows = _chart_rows(stem)
    if ext == "csv":
        return csv_response(f"{stem}_{view.start}_{view.end}.csv", rows, CHARTS[stem][1])
    return jsonify(filters=view.echo(), rows=rows)
