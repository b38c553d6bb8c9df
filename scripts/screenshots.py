"""Screenshots of the dashboards with headless Chromium, for the README (docs/img/).

Serve the data first, or let the script serve a storage root itself:

    retailpipe generate && retailpipe batch          # data for the batch page
    .venv/bin/python scripts/screenshots.py --root ./data --out docs/img

    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8050 --pages stream

It waits until every chart and tile has drawn, then writes `<page>-<width>.png` (full page)
for each page and width. Chromium is the `chromium` on PATH unless --chromium says otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# What "drawn" means on each page: the markers the page's scripts set when they are done.
READY = {
    "batch": [
        ".kpis[data-rendered]",
        "#chart-daily[data-rendered]",
        "#chart-stores[data-rendered]",
        "#chart-categories[data-rendered]",
        "#chart-products[data-rendered]",
        "#chart-payments[data-rendered]",
        "#heatmap[data-rendered]",
    ],
    "stream": ["body[data-refreshed]", "#chart-total[data-rendered]"],
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """Both dashboards over `root` on a free loopback port, for as long as the block runs."""
    from waitress.server import create_server

    from retailpipe.serve import create_app
    from retailpipe.settings import load_settings

    settings = load_settings(None, {"storage.root": str(root)})
    server = create_server(create_app(settings), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


def shoot(browser: Any, url: str, page_name: str, width: int, path: Path) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(url)
        for selector in READY[page_name]:
            page.wait_for_selector(selector, state="attached", timeout=30_000)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="a running `retailpipe serve all`")
    source.add_argument("--root", type=Path, help="a storage root to serve for the shots")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--pages", default="batch,stream", help="comma-separated")
    parser.add_argument("--widths", default="1400,390", help="viewport widths, CSS pixels")
    parser.add_argument("--batch-query", default="", help="e.g. start=2026-01-17&end=2026-01-30")
    parser.add_argument("--chromium", default=shutil.which("chromium"))
    args = parser.parse_args()
    if not args.chromium:
        print("no chromium on PATH; pass --chromium /path/to/chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    pages = [p for p in args.pages.split(",") if p]
    widths = [int(w) for w in args.widths.split(",")]
    with (
        serving(args.root) if args.root else _given(args.url) as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            for name in pages:
                query = f"?{args.batch_query}" if name == "batch" and args.batch_query else ""
                for width in widths:
                    path = args.out / f"{name}-{width}.png"
                    shoot(browser, f"{base}/{name}/{query}", name, width, path)
                    print(path)
        finally:
            browser.close()
    return 0


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url.rstrip("/")


if __name__ == "__main__":
    sys.exit(main())
