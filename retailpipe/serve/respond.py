"""Response helpers shared by the dashboards: CSV downloads and the "no data yet" answer."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from flask import Response, jsonify, render_template, request


def csv_response(filename: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Response:
    """`rows` as a CSV attachment with a header row (money as exact decimal strings)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def no_data(what: str, fix: str) -> Response:
    """404 with the command that produces the data."""
    return error_response(404, "no_data", f"no {what} yet", fix)


def wants_json() -> bool:
    """True for API requests, which get JSON errors."""
    return request.path.startswith("/api/")


def error_response(status: int, title: str, message: str, fix: str | None = None) -> Response:
    """A JSON error for the API, a small HTML page otherwise; never a traceback."""
    if wants_json():
        body = {"error": title, "message": message}
        if fix:
            body["fix"] = fix
        response = jsonify(body)
    else:
        response = Response(
            render_template("error.html", status=status, title=title, message=message, fix=fix),
            mimetype="text/html",
        )
    response.status_code = status
    return response
