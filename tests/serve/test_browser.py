"""Headless Chromium loads each dashboard from a real waitress server and checks what it shows."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from retailpipe.serve import create_app
from retailpipe.storage import Storage
from tests.serve import oracle
from tests.serve.conftest import serve_settings
from tests.serve.streamdata import make_events, write_stream
from tests.serve.test_stream_api import START

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
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


def _scaled(number: float, prefix: str) -> str:
    sign, size = ("-" if number < 0 else ""), abs(number)
    if size >= 1e9:
        return f"{sign}{prefix}{size / 1e9:.2f}B"
    if size >= 1e6:
        return f"{sign}{prefix}{size / 1e6:.2f}M"
    return f"{sign}{prefix}{size / 1e3:.1f}k"


def tile_money(value: str | None) -> str:
    """What a tile shows: exact below $10,000, else "$123.4k" / "$6.63M"."""
    if value is None or abs(Decimal(value)) < 10_000:
        return money(value)
    return _scaled(float(value), "$")


def tile_count(value: int | None) -> str:
    if value is None or abs(value) < 100_000:
        return count(value)
    return _scaled(value, "")


BATCH_TILES = {
    "net_revenue": "money",
    "transactions": "count",
    "units": "count",
    "avg_basket": "money",
    "return_rate": "percent",
    "promo_share": "percent",
    "quarantined_last_run": "count",
}


def expected_tiles(kpis: dict[str, Any], compact: bool) -> dict[str, str]:
    """The batch tiles' texts (compact) or titles (exact) for an API answer."""
    formats: dict[str, Any] = {
        "money": tile_money if compact else money,
        "count": tile_count if compact else count,
        "percent": percent,
    }
    return {key: formats[kind](kpis[key]) for key, kind in BATCH_TILES.items()}


def change(value: str | None, points: bool) -> str:
    """What a tile's delta line shows for an API change."""
    if value is None:
        return "–"
    number = Decimal(value)
    step = Decimal("0.01") if points else Decimal("0.1")
    shown = str((abs(number) * 100).quantize(step, rounding=ROUND_HALF_UP))
    sign = "\u00b1" if Decimal(shown) == 0 else "+" if number > 0 else "\u2212"
    return f"{sign}{shown} pts vs prior" if points else f"{sign}{shown}% vs prior"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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


def tile_texts(page: Any, attribute: str = "textContent") -> dict[str, str]:
    """Each tile's shown text, or its title (the exact figure) with attribute="title"."""
    return page.eval_on_selector_all(
        ".kpis [data-kpi]",
        f"els => Object.fromEntries(els.map(e => [e.dataset.kpi, e.{attribute}]))",
    )


def api(url: str) -> Any:
    with urllib.request.urlopen(url) as response:
        return json.load(response)


def wait_for_batch(page: Any) -> None:
    for canvas in ("daily", "stores", "categories", "products", "payments"):
        page.wait_for_selector(f"#chart-{canvas}[data-rendered]", state="attached")
    page.wait_for_selector("#heatmap[data-rendered]", state="attached")
    page.wait_for_selector(".kpis[data-rendered]", state="attached")


# Lists every layout fault of the page, measured on its element boxes (see layout.js).
LAYOUT_FAULTS = (Path(__file__).parent / "layout.js").read_text()


def test_batch_dashboard_shows_the_api_figures(browser: Any, curated_root: Path) -> None:
    server = Server(curated_root, ["batch", "stream"])
    try:
        query = "store=S002&category=grocery"
        for suffix, width, shot in (
            ("", 1400, "batch.png"),
            ("?" + query, 1400, "batch-filtered.png"),
            ("", 390, "batch-narrow.png"),
        ):
            page, problems = open_page(browser, f"{server.url}/batch/{suffix}", width)
            wait_for_batch(page)
            page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
            kpis = api(f"{server.url}/api/batch/kpis{suffix}")["kpis"]
            assert tile_texts(page) == expected_tiles(kpis, compact=True)
            assert tile_texts(page, "title") == expected_tiles(kpis, compact=False)
            # The heat map shows the trading hours: the first to the last hour with sales.
            heat = api(f"{server.url}/api/batch/heatmap{suffix}")["rows"]
            trading = [r["hour"] for r in heat if Decimal(r["net_revenue"]) != 0]
            hours = max(trading) - min(trading) + 1
            cells = page.eval_on_selector_all("#heatmap td", "els => els.length")
            assert cells == 7 * hours
            assert page.get_attribute("#heatmap", "data-hours") == f"{min(trading)}-{max(trading)}"
            assert problems == [], problems
            page.close()
    finally:
        server.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_batch_layout_holds(browser: Any, curated_root: Path, width: int) -> None:
    """No KPI figure wraps, no chart leaves its card, no horizontal page scroll: the full
    view, a one-store one-category view (one bar per chart) and a two-day view."""
    server = Server(curated_root, ["batch", "stream"])
    try:
        for suffix in ("", "?store=S002&category=grocery", "?start=2026-03-04&end=2026-03-05"):
            page, problems = open_page(browser, f"{server.url}/batch/{suffix}", width)
            wait_for_batch(page)
            assert page.evaluate(LAYOUT_FAULTS) == [], suffix
            # The money axes start at zero: the lowest tick of every bar and line chart.
            lowest = page.evaluate(
                "() => ['daily', 'stores', 'categories', 'products'].map((n) => {"
                "  const chart = Chart.getChart(document.getElementById('chart-' + n));"
                "  const axis = chart.options.indexAxis === 'y' ? chart.scales.x : chart.scales.y;"
                "  return axis.min; })"
            )
            assert lowest == [0, 0, 0, 0], suffix
            # A one-bar chart draws a bar of bar width, not a slab across the chart.
            bars = page.evaluate(
                "() => Chart.getChart(document.getElementById('chart-stores'))"
                ".getDatasetMeta(0).data.map((b) => b.height)"
            )
            if "store=" in suffix:
                assert len(bars) == 1 and bars[0] <= 44
            assert problems == [], problems
            page.close()
    finally:
        server.close()


def test_tile_deltas_equal_an_independent_oracle(
    browser: Any, curated_root: Path, lines: list[oracle.Line]
) -> None:
    days = sorted({x.sale_date for x in lines})
    start, end = days[-2], days[-1]
    now = oracle.select(lines, start, end)
    before = oracle.select(lines, start - dt.timedelta(days=2), start - dt.timedelta(days=1))
    expected = oracle.kpi_changes(now, before)
    server = Server(curated_root, ["batch"])
    try:
        page, problems = open_page(browser, f"{server.url}/batch/?start={start}&end={end}", 1400)
        wait_for_batch(page)
        shown = page.eval_on_selector_all(
            ".kpis [data-delta]",
            "els => Object.fromEntries(els.map(e => [e.dataset.delta,"
            " [e.dataset.change, e.textContent, e.dataset.points === 'true']]))",
        )
        assert {k: v[0] for k, v in shown.items()} == expected
        assert {k: v[1] for k, v in shown.items()} == {
            k: change(expected[k], points) for k, (_, _, points) in shown.items()
        }
        # The full range has no earlier period of its length: the tiles say so.
        page.goto(f"{server.url}/batch/")
        wait_for_batch(page)
        texts = page.eval_on_selector_all(
            ".kpis [data-delta]", "els => els.map(e => e.textContent)"
        )
        assert set(texts) == {"no earlier period"}
        assert problems == [], problems
        page.close()
    finally:
        server.close()


def test_stream_dashboard_updates_without_reload(browser: Any, tmp_path: Path) -> None:
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
            "net_revenue": tile_money(latest["net_revenue"]),
            "transactions": tile_count(latest["transactions"]),
            "units": tile_count(latest["units"]),
            "avg_basket": tile_money(latest["avg_basket"]),
            "late_events": tile_count(summary["late_events"]),
            "dead_letter_events": tile_count(summary["dead_letter_events"]),
        }
        assert tile_texts(page, "title")["net_revenue"] == money(latest["net_revenue"])
        late = page.eval_on_selector_all(
            "#late-stores tbody tr", "els => els.map(e => [e.dataset.store, e.dataset.late])"
        )
        assert late == [[r["store_id"], str(r["late_events"])] for r in summary["late_by_store"]]
        first, last = summary["event_time"]["first"], summary["event_time"]["last"]
        assert page.text_content("#event-range") == (
            f"{first[:10]} {first[11:16]} to {last[:10]} {last[11:16]} UTC"
        )
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
            "() => document.querySelector('[data-kpi=net_revenue]').title === "
            + json.dumps(money(newer["net_revenue"])),
            timeout=15_000,
        )
        assert page.get_attribute("body", "data-window-end") == newer["window_end"]
        page.screenshot(path=str(ARTIFACTS / "stream-updated.png"), full_page=True)
        assert problems == [], problems
        page.close()
    finally:
        server.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_stream_layout_holds(browser: Any, tmp_path: Path, width: int) -> None:
    """No KPI figure wraps, the charts and the leaderboard fit their cards, no page scroll;
    all-stores times are UTC and labelled, per-store times are the stores' local time."""
    storage = Storage(str(tmp_path))
    write_stream(storage, make_events(START, minutes=150))
    # Store names as long as the generator's, which the tables must hold at 390 px too.
    stores = storage.path("stores")
    stores.parent.mkdir(parents=True, exist_ok=True)
    stores.write_text(
        "store_id,store_name,city,region,size,opened\n"
        + "".join(
            f"S00{i},San Francisco Flagship Superstore #{i},San Francisco,West,flagship,"
            "2020-01-01\n"
            for i in range(1, 5)
        )
    )
    server = Server(tmp_path, ["stream"], **{"generate.timezone": "America/New_York"})
    try:
        page, problems = open_page(browser, f"{server.url}/stream/", width)
        page.wait_for_selector("body[data-refreshed]", state="attached")
        assert page.evaluate(LAYOUT_FAULTS) == []
        board = page.eval_on_selector(
            "#leaderboard", "e => [e.scrollWidth, e.closest('.table-wrap').clientWidth]"
        )
        assert board[0] <= board[1], "the leaderboard scrolls sideways"
        labels = page.evaluate(
            "() => ['total', 'stores'].map((n) => "
            "Chart.getChart(document.getElementById('chart-' + n)).data.labels.at(-1))"
        )
        end = dt.datetime.fromisoformat(
            api(f"{server.url}/api/stream/series")["total"][-1]["window_end"]
        )
        local = end.astimezone(ZoneInfo("America/New_York"))
        assert labels == [end.strftime("%m-%d %H:%M"), local.strftime("%m-%d %H:%M")]
        assert "UTC" in page.text_content("#chart-total >> xpath=ancestor::article//h2")
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
