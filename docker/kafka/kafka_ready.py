#!/usr/bin/env python3
"""Health check of the kafka image: exit 0 when the broker answers an ApiVersions request.

    kafka-ready [HOST:PORT]        (default localhost:9092)

A bare TCP connect is not enough (the broker listens before it serves requests), and a JVM
per check costs a second of CPU; this speaks the one request of Kafka's protocol it needs.
"""

from __future__ import annotations

import socket
import struct
import sys

API_VERSIONS = 18


def answers(host: str, port: int, timeout_s: float = 5.0) -> bool:
    client = b"kafka-ready"
    # Request header v1: api key, api version 0, correlation id, client id.
    body = struct.pack(">hhih", API_VERSIONS, 0, 1, len(client)) + client
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", _read(sock, 4))[0]
            reply = _read(sock, size)
    except OSError:
        return False
    correlation, error = struct.unpack(">ih", reply[:6])
    return correlation == 1 and error == 0


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed by the broker")
        data += chunk
    return data


if __name__ == "__main__":
    address = sys.argv[1] if len(sys.argv) > 1 else "localhost:9092"
    host, _, port = address.rpartition(":")
    sys.exit(0 if answers(host, int(port)) else 1)
