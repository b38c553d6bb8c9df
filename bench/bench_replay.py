"""Benchmark: `replay --max` against Kafka's own ProducerPerformance, same records and settings.

Both send the same number of records, with the same payloads (real replay events), to a
local broker with acks=all, idempotence, lz4 compression, linger.ms=20 and 1 MB batches.
Default: 200,000 records; `--quick` (or env RETAILPIPE_BENCH_QUICK=1): 20,000.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from retailpipe.generate.run import generate
from retailpipe.infra import kafka_broker
from retailpipe.infra.jars import kafka_classpath
from retailpipe.infra.java import java_executable
from retailpipe.replay import client
from retailpipe.replay.events import encode, event
from retailpipe.replay.run import ReplayOptions, replay
from retailpipe.replay.source import read_source, select_files
from retailpipe.settings import GenerateSettings, Settings, load_settings
from retailpipe.storage import Storage

DAYS = 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each")
    args = parser.parse_args()
    records = 20_000 if args.quick or os.environ.get("RETAILPIPE_BENCH_QUICK") else args.records
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        settings = _settings(Path(tmp))
        storage = Storage(settings.storage.root)
        generate(GenerateSettings(days=DAYS, rows_per_day=records // DAYS + 1, workers=1), storage)
        try:
            kafka_broker.start(settings, timeout_s=180)
            return _compare(settings, storage, records, Path(tmp), args.rounds)
        finally:
            kafka_broker.stop(settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(tmp: Path) -> Settings:
    port, controller = _free_port(), _free_port()
    return load_settings(None, {
        "storage.root": str(tmp / "data"), "runtime_dir": str(tmp / "runtime"),
        "kafka.local.port": port, "kafka.local.controller_port": controller,
        "kafka.bootstrap_servers": f"127.0.0.1:{port}", "kafka.local.heap": "768m",
    })


def _compare(settings: Settings, storage: Storage, records: int, tmp: Path, rounds: int) -> int:
    started = time.monotonic()
    source = read_source(select_files(storage, None, None, None))
    read_s = time.monotonic() - started
    source.rows = source.rows[:records]
    payloads = tmp / "payloads.txt"
    payloads.write_bytes(b"\n".join(
        encode(event(r.fields, r.event_time, None, 0, r.iso_time)) for r in source.rows
    ))
    size = payloads.stat().st_size / len(source.rows)
    print(f"records: {len(source.rows):,}, mean payload {size:.0f} bytes; CSV read + parse "
          f"{read_s:.1f} s ({len(source.rows) / read_s:,.0f} rows/s, not in the rates below)")
    replay_rates, java_rates = [], []
    for round_no in range(rounds):
        java_rates.append(_producer_performance(settings, len(source.rows), payloads, round_no))
        topic = f"bench-replay-{round_no}"
        client.ensure_topic(settings, topic)
        summary = replay(settings, source, ReplayOptions(topic=topic, mode="max"))
        assert summary.delivered == len(source.rows) and not summary.failed
        replay_rates.append(summary.rate)
        print(f"round {round_no + 1}: ProducerPerformance {java_rates[-1]:,.0f} rec/s, "
              f"replay --max {summary.rate:,.0f} events/s", flush=True)
    best_replay, best_java = max(replay_rates), max(java_rates)
    ratio = best_replay / best_java
    print(f"replay --max:         {best_replay:,.0f} events/s (best of {rounds})")
    print(f"ProducerPerformance:  {best_java:,.0f} records/s (best of {rounds})")
    print(f"ratio replay/kafka:   {ratio:.2f}x (goal >= 0.70x)")
    return 0


def _producer_performance(settings: Settings, records: int, payloads: Path, round_no: int) -> float:
    topic = f"bench-java-{round_no}"
    client.ensure_topic(settings, topic)
    replay_settings = settings.replay
    command = [
        str(java_executable()), "-Xmx512m", "-cp", kafka_classpath(settings),
        "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
        "--num-records", str(records), "--payload-file", str(payloads), "--throughput", "-1",
        "--producer-props", f"bootstrap.servers={settings.kafka.bootstrap_servers}", "acks=all",
        "enable.idempotence=true", f"compression.type={replay_settings.compression}",
        f"linger.ms={replay_settings.linger_ms}", "batch.size=1000000",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
    found = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", result.stdout)
    if not found:
        raise RuntimeError(f"no result from ProducerPerformance: {result.stdout[-500:]}")
    return float(found[-1][1])


if __name__ == "__main__":
    sys.exit(main())
