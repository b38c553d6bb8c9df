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
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


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
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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
        assert demo.poll() is None, demo.stdout.read() if demo.stdout else ""
        assert batch is not None and int(batch["kpis"]["transactions"]) > 0
        assert stream is not None and stream["latest_window"]["transactions"] > 0
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        try:
            output, _ = demo.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            output, _ = demo.communicate()
    assert demo.returncode == 0, output
    assert "every process it started has ended" in output
    assert f"{base}/batch/" in output and f"{base}/stream/" in output
    time.sleep(2)
    assert _processes_mentioning(marker) == []
