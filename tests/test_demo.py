"""`retailpipe demo`: the whole local stack starts, both dashboards serve data, Ctrl-C ends it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from tests.oracle import read_raw

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if text in cmdline or text.encode() in environ:
            found.append(f"{entry.name}: {cmdline[:150]}")
    return found


def _oracle_kpis(raw: Path, filters: dict) -> dict:
    """The batch tiles' figures for the API's resolved filters, from the demo's raw files
    (tests/oracle.py), in the API's JSON form."""
    assert filters["store"] is None and filters["category"] is None
    lines = [x for x in read_raw(raw).lines if filters["start"] <= x.sale_date <= filters["end"]]
    return {
        "transactions": len({x.transaction_id for x in lines}),
        "lines": len(lines),
        "units": sum(x.quantity for x in lines),
        "net_revenue": str(sum((x.net for x in lines), Decimal(0))),
    }


def test_demo_runs_the_pipeline_and_stops_everything(tmp_path: Path) -> None:
    port, kafka, controller = _free_port(), _free_port(), _free_port()
    marker = str(tmp_path)
    env = dict(
        os.environ,
        RETAILPIPE_STORAGE__ROOT=str(tmp_path / "data"),
        RETAILPIPE_RUNTIME_DIR=str(tmp_path / "runtime"),
        RETAILPIPE_KAFKA__LOCAL__PORT=str(kafka),
        RETAILPIPE_KAFKA__LOCAL__CONTROLLER_PORT=str(controller),
        RETAILPIPE_KAFKA__BOOTSTRAP_SERVERS=f"127.0.0.1:{kafka}",
        RETAILPIPE_SPARK__MASTER="local[2]",
        RETAILPIPE_STREAM__TRIGGER="2 seconds",
        RETAILPIPE_DEMO_MARKER=marker,  # lets the test find every process the demo started
    )
    log_path = tmp_path / "demo.log"
    log = log_path.open("wb")  # a file, not a pipe: a full pipe would stall the demo
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "retailpipe",
            "demo",
            "--days",
            "2",
            "--rows-per-day",
            "400",
            "--port",
            str(port),
            "--speed",
            "3600",
            "--duration",
            "900",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 800
        batch = stream = None
        while time.monotonic() < deadline and demo.poll() is None:
            batch = _get(f"{base}/api/batch/kpis")
            stream = _get(f"{base}/api/stream/summary")
            if batch and stream and (stream.get("latest_window") or {}).get("transactions"):
                break
            time.sleep(3)
        assert demo.poll() is None, log_path.read_text(errors="replace")
        assert batch is not None and stream is not None
        expected = _oracle_kpis(tmp_path / "data" / "raw", batch["filters"])
        assert {k: batch["kpis"][k] for k in expected} == expected and expected["lines"] > 0
        assert stream["latest_window"]["transactions"] > 0
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        log.close()
    output = log_path.read_text(errors="replace")
    assert demo.returncode == 0, output
    assert "every process it started has ended" in output
    assert f"{base}/batch/" in output and f"{base}/stream/" in output
    # Grandchildren (Spark's JVMs) may take a moment to be reaped: wait for them, bounded.
    deadline = time.monotonic() + 60
    while _processes_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_mentioning(marker) == []
