"""Benchmark: `replay --max` against Kafka's own ProducerPerformance, same records and settings.

Both send the same number of records, with the same payloads (real replay events), to a
local broker with acks=all, idempotence, lz4 compression, linger.ms=20 and 1 MB batches.
The headline is replay END TO END (read + parse the CSV files, sort, build the JSON, send,
wait for every acknowledgement: what `retailpipe replay --max` does) against
ProducerPerformance's own rate; the send-only rate (without reading the CSV) is shown too.
The two alternate in rounds so both see the same machine load.
Default: 200,000 records, 3 rounds; `--quick` (or env RETAILPIPE_BENCH_QUICK=1): 20,000.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratch_broker import broker_settings

from retailpipe.generate.run import generate
from retailpipe.infra import kafka_broker
from retailpipe.infra.jars import kafka_classpath
from retailpipe.infra.java import java_executable
from retailpipe.replay import client
from retailpipe.replay.events import payloads
from retailpipe.replay.run import ReplayOptions, replay
from retailpipe.replay.source import read_source, select_files
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import Storage

DAYS = 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each")
    args = parser.parse_args()
    records = 20_000 if args.quick or os.environ.get("RETAILPIPE_BENCH_QUICK") else args.records
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        settings = broker_settings(Path(tmp), heap="768m")
        storage = Storage(settings.storage.root)
        generate(GenerateSettings(days=DAYS, rows_per_day=records // DAYS + 1, workers=1), storage)
        try:
            kafka_broker.start(settings, timeout_s=180)
            return _compare(settings, storage, records, Path(tmp), args.rounds)
        finally:
            kafka_broker.stop(settings)


def _compare(settings: Settings, storage: Storage, records: int, tmp: Path, rounds: int) -> int:
    files = select_files(storage, None, None, None)
    source = read_source(files)
    count = min(records, len(source))
    payload_file = tmp / "payloads.txt"
    table = source.head(count).table
    with payload_file.open("wb") as out:
        for start in range(0, count, 50_000):
            out.write(b"\n".join(payloads(table.slice(start, 50_000))) + b"\n")
    size = payload_file.stat().st_size / count
    print(f"records: {count:,} from {len(files)} CSV files, mean payload {size:.0f} bytes")
    java_rates, end_to_end, send_only, reads = [], [], [], []
    for round_no in range(rounds):
        java_rates.append(_producer_performance(settings, count, payload_file, round_no))
        topic = f"bench-replay-{round_no}"
        client.ensure_topic(settings, topic)
        started = time.monotonic()
        source = read_source(files)  # what `replay --max` does, end to end
        read_s = time.monotonic() - started
        summary = replay(settings, source, ReplayOptions(topic=topic, mode="max", limit=count))
        total_s = time.monotonic() - started
        assert summary.delivered == count and not summary.failed, summary
        end_to_end.append(count / total_s)
        send_only.append(summary.rate)
        reads.append(len(source) / read_s)
        print(
            f"round {round_no + 1}: ProducerPerformance {java_rates[-1]:,.0f} rec/s | replay "
            f"end to end {end_to_end[-1]:,.0f} events/s ({total_s:.2f} s: read + parse "
            f"{read_s:.2f} s at {reads[-1]:,.0f} rows/s), send only {send_only[-1]:,.0f} "
            f"events/s | ratio {end_to_end[-1] / java_rates[-1]:.2f}x",
            flush=True,
        )
    java, e2e, send = max(java_rates), max(end_to_end), max(send_only)
    print(f"ProducerPerformance:        {java:,.0f} records/s (best of {rounds})")
    print(
        f"replay --max, end to end:   {e2e:,.0f} events/s (best of {rounds}; CSV read + parse "
        f"{max(reads):,.0f} rows/s)"
    )
    print(f"replay --max, send only:    {send:,.0f} events/s (best of {rounds})")
    print(f"ratio end to end / kafka:   {e2e / java:.2f}x (goal >= 0.70x)")
    print(f"ratio send only / kafka:    {send / java:.2f}x")
    return 0


def _producer_performance(settings: Settings, records: int, payloads: Path, round_no: int) -> float:
    topic = f"bench-java-{round_no}"
    client.ensure_topic(settings, topic)
    replay_settings = settings.replay
    command = [
        str(java_executable()),
        "-Xmx512m",
        "-cp",
        kafka_classpath(settings),
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--payload-file",
        str(payloads),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={settings.kafka.bootstrap_servers}",
        "acks=all",
        "enable.idempotence=true",
        f"compression.type={replay_settings.compression}",
        f"linger.ms={replay_settings.linger_ms}",
        "batch.size=1000000",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
    found = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", result.stdout)
    if not found:
        raise RuntimeError(f"no result from ProducerPerformance: {result.stdout[-500:]}")
    return float(found[-1][1])


if __name__ == "__main__":
    sys.exit(main())
