"""The stream dashboard Blueprint: the live page, its JSON API and CSV downloads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from retailpipe.serve import stream_metrics as metrics
from retailpipe.serve.data import catalog
from retailpipe.serve.query import parse_int
from retailpipe.serve.respond import csv_response, no_data

bp = Blueprint("stream", __name__)

NO_DATA_FIX = (
    "run `retailpipe kafka up`, `retailpipe stream` and `retailpipe replay --shift-to-now`; "
    "this page updates by itself"
)
LEADERBOARD_COLUMNS = (
    "rank",
    "store_id",
    "store_name",
    "window_start",
    "window_end",
    "transactions",
    "units",
    "net_revenue",
    "avg_basket",
)


def _series_params() -> tuple[int, int]:
    settings = current_app.config["RETAILPIPE_SETTINGS"]
    hours = parse_int(request.args, "hours", 24, 1, 24 * 31)
    top = parse_int(request.args, "top", settings.serve.top_stores, 0, 20)
    return hours, top


@bp.get("/stream/")
def page() -> str:
    settings = current_app.config["RETAILPIPE_SETTINGS"]
    return render_template(
        "stream.html",
        poll_ms=int(settings.serve.stream_poll_s * 1000),
        top=settings.serve.top_stores,
        # The generator's stores all keep this zone: per-store times are shown in it.
        store_timezone=settings.generate.timezone,
        fix=NO_DATA_FIX,
    )


@bp.get("/api/stream/summary")
def summary() -> Response:
    if not metrics.has_data(catalog()):
        return no_data("stream windows", NO_DATA_FIX)
    now = dt.datetime.now(dt.UTC)
    return jsonify(**metrics.summary(catalog()), server_time=metrics.iso(now))


@bp.get("/api/stream/series")
def series() -> Response:
    if not metrics.has_data(catalog()):
        return no_data("stream windows", NO_DATA_FIX)
    hours, top = _series_params()
    return jsonify(metrics.series(catalog(), hours, top))


@bp.get("/api/stream/series.csv")
def series_csv() -> Response:
    if not metrics.has_data(catalog()):
        return no_data("stream windows", NO_DATA_FIX)
    hours, top = _series_params()
    data = metrics.series(catalog(), hours, top)
    rows: list[dict[str, Any]] = [{"store_id": "ALL", **p} for p in data["total"]]
    for store in data["stores"]:
        rows.extend({"store_id": store["store_id"], **p} for p in store["points"])
    return csv_response("stream_series.csv", rows, ("store_id", "window_end", "net_revenue"))


@bp.get("/api/stream/leaderboard")
def leaderboard() -> Response:
    if not metrics.has_data(catalog()):
        return no_data("stream windows", NO_DATA_FIX)
    return jsonify(rows=metrics.leaderboard(catalog()))


@bp.get("/api/stream/leaderboard.csv")
def leaderboard_csv() -> Response:
    if not metrics.has_data(catalog()):
        return no_data("stream windows", NO_DATA_FIX)
    return csv_response(
        "stream_leaderboard.csv", metrics.leaderboard(catalog()), LEADERBOARD_COLUMNS
    )
