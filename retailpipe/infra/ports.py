"""The one port check: can a server listen on host:port, and does anything answer there?"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def bind_error(host: str, port: int) -> OSError | None:
    """Why a server could not listen on host:port right now, or None when it could."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As Java's and waitress's server sockets do: a port in TIME_WAIT after a stop is
        # free, only a listener makes it taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None


def answers(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
