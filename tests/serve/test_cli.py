"""`retailpipe serve`: refuses unsafe options; the real command serves over HTTP."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retailpipe.cli.app import app
from retailpipe.serve.server import is_loopback
from tests import processes

START_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")


def test_dev_mode_refuses_a_public_host(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "batch", "--dev", "--host", "0.0.0.0"],
        env={"RETAILPIPE_STORAGE__ROOT": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "loopback" in result.output and "Traceback" not in result.output


def test_port_in_use_is_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["serve", "batch", "--port", str(port)],
            env={"RETAILPIPE_STORAGE__ROOT": str(tmp_path)},
        )
    assert result.exit_code == 3
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


@pytest.mark.integration
def test_serve_all_answers_over_http(curated_root: Path) -> None:
    port = free_port()
    env = {**os.environ, "RETAILPIPE_STORAGE__ROOT": str(curated_root)}
    command = [str(Path(sys.executable).parent / "retailpipe"), "serve", "all", "--port", str(port)]
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S  # a bound on a hang, not a speed claim
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", "/api/batch/kpis")
                response = connection.getresponse()
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1].decode()[-2000:]
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert response.status == 200
        assert response.getheader("Server") == "retailpipe"
        assert response.read().startswith(b'{"filters"')
        connection.request("GET", "/stream/")
        assert connection.getresponse().status == 200
    finally:
        server.terminate()
        try:
            out, _ = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            processes.kill_group(server)
            raise
    assert f"http://localhost:{port}/batch/" in out.decode()
