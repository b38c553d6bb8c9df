"""Dashboard API under load: the KPI endpoint next to a static JSON endpoint of the same server.

30 days of generated sales go through `retailpipe batch`; `retailpipe serve batch` (waitress)
runs in its own process on 127.0.0.1, and 50 client threads (http.client, keep-alive) send a
bounded number of requests to each endpoint in turn. Goals: KPI p95 <= 2x the static
endpoint's, KPI throughput >= 0.5x.

`--scale`: 30 days x 370,000 lines (11 M): the server's resident memory and the first,
uncached answer of every batch endpoint for four views (all data, one store, one category,
both), next to the first answer of the static endpoint; with `--compare-src DIR` (a folder
holding another `retailpipe` package, e.g. from `git archive <rev> retailpipe`) that
server runs side by side on the same data. Goals: resident memory <= 300 MB, every first
answer <= 200 ms.

    python bench/bench_serve.py            # 30 days x 20,000 lines, 6,000 requests per run
    python bench/bench_serve.py --quick    # 30 days x 2,000 lines, 1,500 requests per run
    python bench/bench_serve.py --scale [--compare-src /tmp/old]
    env: BENCH_SERVE_ROWS_PER_DAY, BENCH_SERVE_REQUESTS, BENCH_SERVE_CLIENTS, BENCH_SERVE_DIR
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
MAX_SECONDS = 60.0


def retailpipe(*args: str, env: dict[str, str]) -> None:
    command = [str(BIN / "retailpipe"), "--quiet", *args]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, env=env)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def prepare(root: Path, rows_per_day: int, env: dict[str, str]) -> None:
    """Generate 30 days and run the real batch job, unless `root` already holds its output."""
    if (root / "curated" / "daily_sales").exists() and (root / "runs").exists():
        print(f"reusing curated data in {root}")
        return
    retailpipe(
        "generate",
        "--days",
        "30",
        "--rows-per-day",
        str(rows_per_day),
        "--out",
        str(root),
        "--force",
        env=env,
    )
    retailpipe("batch", env=env)


def wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before it answered")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within 60 s")


def load(port: int, path: str, requests: int, clients: int) -> dict[str, float]:
    """`requests` GETs of `path` from `clients` keep-alive threads; latency percentiles and
    throughput. Stops early after MAX_SECONDS."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    remaining = [requests]
    deadline = time.monotonic() + MAX_SECONDS

    def worker() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        mine: list[float] = []
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
            mine.append(time.perf_counter() - started)
            if not ok:
                with lock:
                    errors[0] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors[0],
        "seconds": elapsed,
        "throughput": n / elapsed,
        "p50_ms": 1000 * latencies[n // 2],
        "p95_ms": 1000 * latencies[min(n - 1, int(n * 0.95))],
        "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))],
    }


def cold_ms(port: int, path: str) -> float:
    """One request on a fresh query (computed from Parquet, not from the cache)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path)
    connection.getresponse().read()
    connection.close()
    return 1000 * (time.perf_counter() - started)


# The batch endpoints a page load calls, each asked once per view.
ENDPOINTS = ("kpis", "daily", "stores", "categories", "products", "payments", "heatmap")
SCALE_ROWS = 370_000


def rss_mb(pid: int) -> dict[str, float]:
    """The process's resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def get_json(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    connection.request("GET", path)
    body = json.loads(connection.getresponse().read())
    connection.close()
    return body


def first_answers(port: int, pid: int) -> dict[str, Any]:
    """Resident memory at rest, then the first answer of every endpoint and view (ms)."""
    idle = rss_mb(pid)
    cold = {"/api/health": cold_ms(port, "/api/health")}
    cold["/api/batch/options"] = cold_ms(port, "/api/batch/options")
    options = get_json(port, "/api/batch/options")
    store, category = options["stores"][1]["id"], options["categories"][0]
    views = ({}, {"store": store}, {"category": category}, {"store": store, "category": category})
    for view in views:
        query = urllib.parse.urlencode(view)
        for name in ENDPOINTS:
            path = f"/api/batch/{name}" + (f"?{query}" if query else "")
            cold[path] = cold_ms(port, path)
    return {"idle": idle, "cold_ms": cold, "after": rss_mb(pid)}


def scale(args: argparse.Namespace) -> int:
    """The 11 M-line case: memory and first answers, retailpipe and (optionally) another
    version's server, each in its own process on the same data."""
    rows = int(os.environ.get("BENCH_SERVE_ROWS_PER_DAY", SCALE_ROWS))
    base = Path(os.environ.get("BENCH_SERVE_DIR") or tempfile.mkdtemp(prefix="bench-serve-"))
    root = base / f"rows{rows}"
    root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "RETAILPIPE_STORAGE__ROOT": str(root),
        "RETAILPIPE_SPARK__MASTER": "local[2]",
        "RETAILPIPE_SERVE__HOST": HOST,
        "RETAILPIPE_RUNTIME_DIR": str(root / ".runtime"),
    }
    prepare(root, rows, env)
    contenders = {"retailpipe": dict(env)}
    if args.compare_src:
        contenders["compare"] = dict(env, PYTHONPATH=str(Path(args.compare_src).resolve()))
    results = {}
    for name, contender_env in contenders.items():
        port = free_port()
        contender_env["RETAILPIPE_SERVE__PORT"] = str(port)
        with (root / f"serve-{name}.log").open("wb") as server_log:
            server = subprocess.Popen(
                # The entry point, not `python -m`: that would put the working directory
                # ahead of PYTHONPATH and serve this tree's package as the comparison.
                [str(BIN / "retailpipe"), "--quiet", "serve", "batch"],
                env=contender_env,
                stdout=server_log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_ready(port, server)
            results[name] = first_answers(port, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\nserve bench, scale: 30 days x {rows:,} lines/day, one request at a time")
    for name, result in results.items():
        cold = result["cold_ms"]
        batch = {k: v for k, v in cold.items() if k.startswith("/api/batch/")}
        slowest = max(batch, key=batch.__getitem__)
        print(
            f"  {name:10s} RSS at rest {result['idle']['VmRSS']:7.0f} MB, after every first "
            f"answer {result['after']['VmRSS']:7.0f} MB (peak {result['after']['VmHWM']:.0f} MB)"
        )
        median = sorted(batch.values())[len(batch) // 2]
        print(
            f"  {name:10s} first answers: median {median:.1f} ms, slowest {batch[slowest]:.1f} "
            f"ms ({slowest}); /api/health {cold['/api/health']:.1f} ms"
        )
    mine = results["retailpipe"]
    slowest_ms = max(v for k, v in mine["cold_ms"].items() if k.startswith("/api/batch/"))
    peak = mine["after"]["VmHWM"]
    print(f"  goal: peak RSS {peak:.0f} MB <= 300, slowest first answer {slowest_ms:.1f} ms <= 200")
    if "compare" in results:
        other = results["compare"]
        print("  ratio retailpipe / compare, first answer per endpoint:")
        for path, ms in mine["cold_ms"].items():
            theirs = other["cold_ms"][path]
            print(f"    {path:60s} {ms:8.1f} / {theirs:8.1f} = {ms / theirs:6.3f}x")
        print(f"  ratio peak RSS {mine['after']['VmHWM'] / other['after']['VmHWM']:.3f}x")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve_scale.json").write_text(json.dumps({"rows_per_day": rows, **results}, indent=2))
    return 0 if peak <= 300 and slowest_ms <= 200 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer requests")
    parser.add_argument("--scale", action="store_true", help="11 M lines: memory, first answers")
    parser.add_argument(
        "--compare-src",
        help="with --scale: a folder holding another `retailpipe` package, served side by side",
    )
    args = parser.parse_args()
    if args.scale:
        return scale(args)
    rows = int(os.environ.get("BENCH_SERVE_ROWS_PER_DAY", 2_000 if args.quick else 20_000))
    requests = int(os.environ.get("BENCH_SERVE_REQUESTS", 1_500 if args.quick else 6_000))
    clients = int(os.environ.get("BENCH_SERVE_CLIENTS", 50))
    base = Path(os.environ.get("BENCH_SERVE_DIR") or tempfile.mkdtemp(prefix="bench-serve-"))
    root = base / f"rows{rows}"
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "RETAILPIPE_STORAGE__ROOT": str(root),
        "RETAILPIPE_SPARK__MASTER": "local[2]",
        "RETAILPIPE_SERVE__PORT": str(port),
        "RETAILPIPE_SERVE__HOST": HOST,
        "RETAILPIPE_RUNTIME_DIR": str(root / ".runtime"),
    }
    prepare(root, rows, env)
    log_path = root / "serve.log"
    print(f"server log: {log_path}")
    with log_path.open("wb") as server_log:
        server = subprocess.Popen(
            [str(BIN / "retailpipe"), "--quiet", "serve", "batch"],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(port, server)
        kpi_path = "/api/batch/kpis"
        cold = {
            "kpis (all)": cold_ms(port, kpi_path),
            "kpis (store+category)": cold_ms(port, kpi_path + "?store=S002&category=grocery"),
            "daily (all)": cold_ms(port, "/api/batch/daily"),
        }
        load(port, "/api/health", min(500, requests), clients)  # warm-up
        static = load(port, "/api/health", requests, clients)
        kpis = load(port, kpi_path, requests, clients)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"\nserve bench: 30 days x {rows:,} lines/day, {clients} clients, "
        f"{requests:,} requests per endpoint, waitress on {HOST}"
    )
    for name, ms in cold.items():
        print(f"  first (uncached) {name:24s} {ms:8.1f} ms")
    header = f"  {'endpoint':22s} {'req/s':>9s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} errors"
    print(header)
    for name, figures in (("/api/health (static)", static), (kpi_path, kpis)):
        print(
            f"  {name:22s} {figures['throughput']:9.0f} {figures['p50_ms']:8.1f} "
            f"{figures['p95_ms']:8.1f} {figures['p99_ms']:8.1f} {figures['errors']:.0f}"
        )
    p95_ratio = kpis["p95_ms"] / static["p95_ms"]
    throughput_ratio = kpis["throughput"] / static["throughput"]
    print(f"  ratio p95 kpis/static        {p95_ratio:5.2f}x  (goal <= 2.0)")
    print(f"  ratio throughput kpis/static {throughput_ratio:5.2f}x  (goal >= 0.5)")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve.json").write_text(
        json.dumps(
            {
                "rows_per_day": rows,
                "clients": clients,
                "requests": requests,
                "cold_ms": cold,
                "static": static,
                "kpis": kpis,
                "p95_ratio": p95_ratio,
                "throughput_ratio": throughput_ratio,
            },
            indent=2,
        )
    )
    failed = kpis["errors"] or static["errors"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
