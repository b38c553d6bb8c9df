"""Headless Chromium loads each dashboard from a real waitress server and checks what it shows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retailpipe.serve import create_app
from retailpipe.storage import Storage
from tests.serve.conftest import serve_settings
from tests.serve.streamdata import make_events, write_stream
from tests.serve.test_stream_api import START

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "serve"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def money(value: str | None) -> str:
    """What the page's RP.money shows for an API money string."""
    if value is None:
        return "–"
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
    whole, frac = digits.split(".")
    return f"{sign}${int(whole):,}.{frac}"


def count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def percent(value: str | None) -> str:
    return "–" if value is None else f"{float(value) * 100:.2f}%"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Server:
    """The production server (waitress) on a free loopback port, in a thread."""

    def __init__(self, root: Path, dashboards: list[str], **overrides: object) -> None:
        from waitress.server import create_server

        app = create_app(serve_settings(root, **overrides), dashboards)
        self.server = create_server(app, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.close()
        self.thread.join(timeout=5)


def open_page(browser: Any, url: str, width: int = 1360) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    return page, problems


def tile_texts(page: Any) -> dict[str, str]:
    return page.eval_on_selector_all(
        ".kpis [data-kpi]",
        "els => Object.fromEntries(els.map(e => [e.dataset.kpi, e.textContent]))",
    )


def test_batch_dashboard_shows_the_api_figures(browser: Any, curated_root: Path) -> None:
    import json
    import urllib.request

    server = Server(curated_root, ["batch", "stream"])
    try:
        query = "store=S002&category=grocery"
        for suffix, width, shot in (
            ("", 1360, "batch.png"),
            ("?" + query, 1360, "batch-filtered.png"),
            ("", 400, "batch-narrow.png"),
        ):
            page, problems = open_page(browser, f"{server.url}/batch/{suffix}", width)
            for canvas in ("daily", "stores", "categories", "products", "payments"):
                page.wait_for_selector(f"#chart-{canvas}[data-rendered]", state="attached")
            page.wait_for_selector("#heatmap[data-rendered]", state="attached")
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-kpi]')]"
                ".every(e => e.textContent !== '…')"
            )
            page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
            with urllib.request.urlopen(f"{server.url}/api/batch/kpis{suffix}") as response:
                kpis = json.load(response)["kpis"]
            assert tile_texts(page) == {
                "net_revenue": money(kpis["net_revenue"]),
                "transactions": count(kpis["transactions"]),
                "units": count(kpis["units"]),
                "avg_basket": money(kpis["avg_basket"]),
                "return_rate": percent(kpis["return_rate"]),
                "promo_share": percent(kpis["promo_share"]),
                "quarantined_last_run": count(kpis["quarantined_last_run"]),
            }
            cells = page.eval_on_selector_all("#heatmap td", "els => els.length")
            assert cells == 7 * 24
            assert problems == [], problems
            page.close()
    finally:
        server.close()


def test_stream_dashboard_updates_without_reload(browser: Any, tmp_path: Path) -> None:
    import json
    import urllib.request

    storage = Storage(str(tmp_path))
    events = make_events(START, minutes=150)
    write_stream(storage, events)
    server = Server(tmp_path, ["stream"], **{"serve.stream_poll_s": 0.5})
    try:
        page, problems = open_page(browser, f"{server.url}/stream/")
        page.wait_for_selector("body[data-refreshed]", state="attached")
        page.wait_for_selector("#chart-total[data-rendered]", state="attached")
        page.wait_for_selector("#chart-stores[data-rendered]", state="attached")
        first_end = page.get_attribute("body", "data-window-end")
        page.screenshot(path=str(ARTIFACTS / "stream.png"), full_page=True)
        with urllib.request.urlopen(f"{server.url}/api/stream/summary") as response:
            summary = json.load(response)
        latest = summary["latest_window"]
        texts = tile_texts(page)
        assert texts == {
            "net_revenue": money(latest["net_revenue"]),
            "transactions": count(latest["transactions"]),
            "units": count(latest["units"]),
            "avg_basket": money(latest["avg_basket"]),
            "late_events": count(summary["late_events"]),
            "dead_letter_events": count(summary["dead_letter_events"]),
        }
        assert first_end == latest["window_end"]
        assert "updated" in page.text_content("#freshness")
        rows = page.eval_on_selector_all("#leaderboard tbody tr", "els => els.length")
        assert rows == summary["stores_in_window"]

        more = events + make_events(max(e.time for e in events), minutes=30, seed=9)
        write_stream(storage, more)
        page.wait_for_function(
            f"() => document.body.dataset.windowEnd !== {json.dumps(first_end)}", timeout=15_000
        )
        with urllib.request.urlopen(f"{server.url}/api/stream/summary") as response:
            newer = json.load(response)["latest_window"]
        page.wait_for_function(
            "() => document.querySelector('[data-kpi=net_revenue]').textContent === "
            + json.dumps(money(newer["net_revenue"])),
            timeout=15_000,
        )
        assert page.get_attribute("body", "data-window-end") == newer["window_end"]
        page.screenshot(path=str(ARTIFACTS / "stream-updated.png"), full_page=True)
        assert problems == [], problems
        page.close()
    finally:
        server.close()


def test_no_data_pages(browser: Any, tmp_path: Path) -> None:
    server = Server(tmp_path, ["batch", "stream"], **{"serve.stream_poll_s": 0.5})
    try:
        page, _ = open_page(browser, f"{server.url}/batch/")
        assert "retailpipe generate && retailpipe batch" in page.text_content("#no-data")
        page.goto(f"{server.url}/stream/")
        page.wait_for_selector("#no-data:not([hidden])")
        assert "retailpipe stream" in page.text_content("#no-data")
        page.close()
    finally:
        server.close()
