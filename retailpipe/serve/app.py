"""The Flask app factory: one Blueprint per dashboard, security headers, error pages."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import Flask, Response, jsonify, redirect, request, url_for
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response as BaseResponse

from retailpipe import __version__
from retailpipe.serve.batch_views import bp as batch_bp
from retailpipe.serve.data import Catalog, DataUnavailable, serving_storage
from retailpipe.serve.metrics import bp as metrics_bp
from retailpipe.serve.query import BadRequest
from retailpipe.serve.respond import error_response, wants_json
from retailpipe.serve.stream_views import bp as stream_bp
from retailpipe.settings import Settings

log = logging.getLogger(__name__)

DASHBOARDS: tuple[str, ...] = ("batch", "stream")

SECURITY_HEADERS = {
    # No inline script or style anywhere: every page's JS and CSS are static files.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def create_app(settings: Settings, dashboards: Iterable[str] = DASHBOARDS) -> Flask:
    """The dashboards app for `settings`; `dashboards` picks which Blueprints to mount."""
    chosen = [name for name in DASHBOARDS if name in set(dashboards)]
    if not chosen:
        raise ValueError(f"no dashboard among {list(dashboards)}; choose from {DASHBOARDS}")
    app = Flask(__name__)
    # Answer `//etc/passwd`-style paths with 404 rather than a redirect to a merged path.
    app.url_map.merge_slashes = False
    app.config.update(
        SECRET_KEY=None,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=16 * 1024,
        RETAILPIPE_SETTINGS=settings,
        RETAILPIPE_DASHBOARDS=chosen,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["retailpipe_catalog"] = Catalog(
        serving_storage(settings), refresh_s=settings.serve.refresh_s
    )
    if "batch" in chosen:
        app.register_blueprint(batch_bp)
    if "stream" in chosen:
        app.register_blueprint(stream_bp)
    app.register_blueprint(metrics_bp)

    @app.get("/")
    def index() -> BaseResponse:
        return redirect(url_for(f"{chosen[0]}.page"))

    @app.get("/api/health")
    def health() -> Response:
        """A constant JSON answer: liveness probes and the benchmark's baseline."""
        return jsonify(status="ok", version=__version__, dashboards=chosen)

    @app.context_processor
    def navigation() -> dict[str, object]:
        return {"dashboards": chosen, "version": __version__}

    app.add_template_filter(_when, "when")
    app.add_template_filter(_count, "count")
    app.after_request(_secure)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(BadRequest, _bad_request)
    app.register_error_handler(DataUnavailable, _unavailable)
    app.register_error_handler(Exception, _unexpected)
    return app


def _when(value: str | None) -> str:
    """An ISO 8601 instant as "2026-01-31 17:05 UTC" (unchanged if it does not parse)."""
    import datetime as dt

    try:
        instant = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "–")
    if instant.tzinfo is not None:
        instant = instant.astimezone(dt.UTC)
    return instant.strftime("%Y-%m-%d %H:%M UTC")


def _count(value: object) -> str:
    """A whole number with thousands separators ("59,725"); "–" when missing."""
    return f"{value:,}" if isinstance(value, int) else "–"


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-cache")
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return _unexpected(exc)
    title = exc.name.lower().replace(" ", "_") if wants_json() else exc.name
    message = "no such page" if status == 404 else (exc.description or exc.name)
    return error_response(status, title, message)


def _bad_request(exc: BadRequest) -> Response:
    return error_response(400, "bad_request" if wants_json() else "Bad request", str(exc))


def _unavailable(exc: DataUnavailable) -> Response:
    log.warning("%s", exc)
    return error_response(
        503,
        "data_unavailable" if wants_json() else "Data unavailable",
        "the data is being replaced; try again in a moment",
    )


def _unexpected(exc: Exception) -> Response:
    log.error("unexpected error on %s", request.path, exc_info=exc)
    return error_response(
        InternalServerError.code,
        "internal_error" if wants_json() else "Internal error",
        "something went wrong on the server; the server log has the details",
    )
