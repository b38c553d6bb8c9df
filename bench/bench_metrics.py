"""What a Prometheus scrape costs next to a dashboard call, on the same server and data.

In one process, a Flask test client alternates `GET /metrics` with a dashboard API call
(`/api/batch/kpis` or `/api/stream/summary`), both warm (their caches filled, as between
two changes of the data), and reports the medians and their ratio; then the cold cost
of rendering the metrics (a new Catalog: every manifest read again) against the same call.

    python bench/bench_metrics.py --root ROOT [--requests 2000] [--api /api/batch/kpis]

ROOT: a storage root with the output of `batch` (and, for the stream metrics, `stream`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from retailpipe.serve import create_app
from retailpipe.serve.data import Catalog
from retailpipe.serve.metrics import families, render
from retailpipe.settings import load_settings


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--api", default="/api/batch/kpis")
    args = parser.parse_args()
    # refresh_s as served (2 s): change detection runs at most that often, as in production.
    app = create_app(load_settings(None, {"storage.root": args.root}))
    client = app.test_client()

    def scrape() -> None:
        assert client.get("/metrics").status_code == 200

    def dashboard() -> None:
        assert client.get(args.api).status_code == 200

    scrape()  # fill both caches
    dashboard()
    warm: dict[str, list[float]] = {"metrics": [], "api": []}
    for _ in range(args.requests):
        warm["metrics"].append(timed(scrape))
        warm["api"].append(timed(dashboard))
    storage = app.extensions["retailpipe_catalog"].storage
    # Cold: a new Catalog each time, so every manifest and the stores' file are read again.
    cold = [
        timed(lambda: render(families(Catalog(storage)))) for _ in range(min(200, args.requests))
    ]
    metrics_ms = statistics.median(warm["metrics"]) * 1000
    api_ms = statistics.median(warm["api"]) * 1000
    cold_ms = statistics.median(cold) * 1000
    print(f"{args.requests} requests each, alternating; medians:")
    print(f"  GET /metrics (warm)          {metrics_ms:8.3f} ms")
    print(f"  GET {args.api:24s} {api_ms:8.3f} ms")
    print(f"  ratio /metrics : dashboard   {metrics_ms / api_ms:8.2f}x")
    print(f"  metrics rendered cold        {cold_ms:8.3f} ms ({cold_ms / api_ms:.2f}x the call)")


if __name__ == "__main__":
    main()
