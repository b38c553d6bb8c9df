"""Spark's UI for `retailpipe stream`: on by default, bound to 127.0.0.1, moved past a port
that is taken, its URL printed and in the run manifest; other commands keep it off."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from retailpipe.spark import base_conf, wants_ui
from tests import processes
from tests.conftest import test_settings as settings_for
from tests.stream.kafka_helpers import cli, cli_env, new_topic, produce, stream_settings
from tests.stream.oracle import json_event

pytestmark = pytest.mark.integration


def test_the_ui_is_on_for_stream_only_unless_set(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert wants_ui(settings, "stream") and not wants_ui(settings, "batch")
    assert base_conf(settings, "batch")["spark.ui.enabled"] == "false"
    on = settings_for(tmp_path, **{"batch.spark_ui": True, "spark.ui_port": 4100})
    assert wants_ui(on, "batch")
    conf = base_conf(on, "batch", ui=True)
    assert (conf["spark.ui.enabled"], conf["spark.ui.port"]) == ("true", "4100")


def _listening_on(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on `port` (/proc/net/tcp and tcp6;
    Java listens on IPv6 sockets, 127.0.0.1 as ::ffff:127.0.0.1, every interface as ::)."""
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path("/proc/net", table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            ip = ipaddress.ip_address(packed)
            mapped = getattr(ip, "ipv4_mapped", None)
            found.add(str(mapped or ip))
    return found


def _streaming_tab(url: str, deadline: float) -> str:
    """The UI's Structured Streaming tab once it lists a query (it starts after the UI)."""
    text = ""
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/StreamingQuery/", timeout=30) as page:
            text = page.read().decode(errors="replace")
        if "retailpipe_stream" in text:
            break
        time.sleep(1)
    return text


def test_stream_serves_its_ui_on_127_0_0_1_past_a_taken_port(kafka_broker, tmp_path: Path) -> None:
    settings = stream_settings(tmp_path, kafka_broker, new_topic("ui"))
    produce(settings, [(b"S1", json_event("S1", "2026-01-01T10:00:00+00:00", "A"))])
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    env = {
        **cli_env(settings),
        "RETAILPIPE_SPARK__UI_PORT": str(port),
        "RETAILPIPE_STREAM__TRIGGER": "1 second",
    }
    env.pop("SPARK_LOCAL_IP", None)
    log = tmp_path / "stream.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cli(), "stream"], env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        url = None
        deadline = time.monotonic() + 600
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            for path in sorted((tmp_path / "runs").glob("stream-*.json")):
                url = json.loads(path.read_text()).get("spark_ui")
            time.sleep(1)
        assert url is not None, log.read_text(errors="replace")
        ui_port = int(url.rsplit(":", 1)[1])
        assert url.startswith("http://127.0.0.1:") and ui_port > port
        assert _listening_on(ui_port) == {"127.0.0.1"}
        assert "retailpipe_stream" in _streaming_tab(url, deadline)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # a graceful stop, so the log has its last line
        try:
            proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            processes.kill_group(proc)
            raise
        taken.close()
    assert f"Spark UI: {url}" in log.read_text(errors="replace")
