"""Settings for a throwaway Kafka broker on free local ports, shared by the Kafka benchmarks."""

from __future__ import annotations

import socket
from pathlib import Path

from retailpipe.settings import Settings, load_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_settings(tmp: Path, heap: str) -> Settings:
    """Storage, runtime and a local broker (with `heap`) all under `tmp`."""
    port, controller = free_port(), free_port()
    return load_settings(
        None,
        {
            "storage.root": str(tmp / "data"),
            "runtime_dir": str(tmp / "runtime"),
            "kafka.local.port": port,
            "kafka.local.controller_port": controller,
            "kafka.bootstrap_servers": f"127.0.0.1:{port}",
            "kafka.local.heap": heap,
        },
    )
