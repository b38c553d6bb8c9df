"""Security: no file outside the static folder, security headers, validation, no tracebacks."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

TRAVERSALS = [
    "/static/../settings.py",
    "/static/..%2f..%2fsettings.py",
    "/static/%2e%2e/%2e%2e/settings.py",
    "/static/%2e%2e%2f%2e%2e%2fsettings.py",
    "/static/..%5c..%5csettings.py",
    "/static/....//....//etc/passwd",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/vendor/../../app.py",
    "/static/%252e%252e/%252e%252e/app.py",
    "/static/..%c0%af..%c0%afetc/passwd",
    "/static/%00../app.py",
    "/etc/passwd",
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/batch/../../../etc/passwd",
    "/api/batch/..%2f..%2fsettings.py",
    "/api/batch/../../etc/passwd",
    "/api/batch/daily.csv%2f..%2f..%2fapp.py",
    "/api/batch/%2e%2e%2fruns",
    "/api/batch/stores.txt",
    "/api/batch/C:%5cwindows%5cwin.ini",
    "/api/stream/..%2fsummary",
    "/templates/base.html",
    "/serve/app.py",
]
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_payloads_get_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, (path, response.status_code)
    body = response.get_data(as_text=True)
    assert "import " not in body and "root:" not in body


@pytest.mark.parametrize(
    "path",
    [
        "/batch/",
        "/stream/",
        "/api/batch/kpis",
        "/api/health",
        "/static/app.css",
        "/nope",
        "/api/batch/kpis?start=x",
    ],
)
def test_security_headers_on_every_response(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_pages_have_no_inline_script_or_style(client: FlaskClient) -> None:
    for path in ("/batch/", "/stream/"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "<style" not in html and " style=" not in html
        assert "http://" not in html and "https://" not in html  # nothing from a CDN


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-02-30",
        "start=yesterday",
        "end=2026-13-01",
        "start=2026-03-05&end=2026-03-01",
        "store=..%2f..%2fetc",
        "store=%3Cscript%3E",
        "category=nope",
        "store=S999",
        "limit=0",
        "limit=x",
    ],
)
def test_bad_query_parameters_are_400_with_a_message(client: FlaskClient, query: str) -> None:
    path = "/api/batch/products" if query.startswith("limit") else "/api/batch/kpis"
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400, query
    body = response.get_json()
    assert body["error"] == "bad_request" and body["message"]
    if path.endswith("products"):
        return
    page = client.get(f"/batch/?{query}")
    assert page.status_code == 400
    assert "<script>" not in page.get_data(as_text=True).split("</main>")[0]


def test_forced_error_shows_no_traceback(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from retailpipe.serve import batch_metrics

    def boom(*args: object) -> None:
        raise RuntimeError("secret internal detail /home/user/app.py line 3")

    monkeypatch.setattr(batch_metrics, "kpis", boom)
    monkeypatch.setattr(batch_metrics, "options", boom)
    client = app.test_client()
    for path in ("/api/batch/kpis", "/batch/"):
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code == 500
        assert "Traceback" not in body and "secret internal detail" not in body
        assert "RuntimeError" not in body
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_only_get_is_allowed(client: FlaskClient) -> None:
    assert client.post("/api/batch/kpis").status_code == 405
    assert client.delete("/batch/").status_code == 405


def test_static_files_and_vendored_chart_library_are_served(client: FlaskClient) -> None:
    response = client.get("/static/vendor/chart.umd.min.js")
    assert response.status_code == 200
    assert b"Chart.js v4" in response.data[:200]
    response.close()
