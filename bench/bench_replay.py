"""Benchmark: `replay --max` against Kafka's own ProducerPerformance, and replay's peak memory.

Both send to a local broker with acks=all, idempotence, lz4 compression, linger.ms=20 and
1 MB batches, with real replay events as payloads. The headline is replay END TO END (read
+ parse the CSV files into sorted runs, merge by event time, build the JSON, send, wait for
every acknowledgement: what `retailpipe replay --max` does) against ProducerPerformance's
own rate; the send-only rate is shown too. Each replay runs in a child process, whose peak
resident memory is its own VmHWM (not ru_maxrss: Linux carries the forking parent's
high-water mark across exec into the child's ru_maxrss, and the parent has just generated
the data).

Cases:
- the small one: 200,000 records from 2 generated days, ProducerPerformance and replay
  alternating in rounds (default 3) so both see the same machine load;
- `--days 30` (default) and e.g. `--days 30,120`: that many generated days of 370,000 rows
  (1 % late rows, one or two days older than their file), one round each, all rows sent.
  ProducerPerformance sends the same number of records, drawn from 200,000 real events.
`--quick` (or env RETAILPIPE_BENCH_QUICK=1): 20,000 records, 1 round, no day cases.
"""

from __future__ import annotations

import argparse
import json
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
from retailpipe.settings import GenerateSettings, Settings, load_settings
from retailpipe.storage import Storage

SMALL_DAYS = 2
ROWS_PER_DAY = 370_000
LATE_RATE = 0.01
PAYLOAD_SAMPLE = 200_000
RSS_GOAL_MB = 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--days", default="30", help="day cases, comma-separated ('' for none)")
    parser.add_argument("--skip-small", action="store_true", help="run the day cases only")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(*args.child)
    quick = args.quick or bool(os.environ.get("RETAILPIPE_BENCH_QUICK"))
    records = 20_000 if quick else args.records
    rounds = 1 if quick else args.rounds
    day_cases = [] if quick else [int(days) for days in args.days.split(",") if days]
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        settings = broker_settings(Path(tmp), heap="768m")
        try:
            kafka_broker.start(settings, timeout_s=180)
            if not args.skip_small:
                _small_case(settings, Path(tmp), records, rounds)
            for days in day_cases:
                _day_case(settings, Path(tmp), days)
        finally:
            kafka_broker.stop(settings)
    return 0


def _small_case(settings: Settings, tmp: Path, records: int, rounds: int) -> None:
    storage = Storage(str(tmp / "small"))
    params = GenerateSettings(days=SMALL_DAYS, rows_per_day=records // SMALL_DAYS + 1, workers=1)
    generate(params, storage)
    count, size = _payload_file(storage, tmp / "payloads-small.txt", records)
    print(f"\n== {count:,} records from {SMALL_DAYS} days, mean payload {size:.0f} bytes ==")
    java_rates, runs = [], []
    for round_no in range(rounds):
        java_rates.append(_producer_performance(settings, count, tmp / "payloads-small.txt"))
        runs.append(_replay_child(settings, storage, count))
        _print_round(round_no + 1, java_rates[-1], runs[-1])
    java, best = max(java_rates), max(runs, key=lambda run: run["end_to_end"])
    print(f"ProducerPerformance:        {java:,.0f} records/s (best of {rounds})")
    print(f"replay --max, end to end:   {best['end_to_end']:,.0f} events/s (best of {rounds})")
    print(f"replay --max, send only:    {max(r['send_only'] for r in runs):,.0f} events/s")
    print(f"ratio end to end / kafka:   {best['end_to_end'] / java:.2f}x (goal >= 1x)")
    print(f"replay peak RSS:            {max(r['peak_mb'] for r in runs):,.0f} MB")


def _day_case(settings: Settings, tmp: Path, days: int) -> None:
    storage = Storage(str(tmp / f"days-{days}"))
    started = time.monotonic()
    generate(GenerateSettings(days=days, rows_per_day=ROWS_PER_DAY, late_rate=LATE_RATE), storage)
    csv_bytes = sum(path.stat().st_size for path in storage.path("raw").glob("transactions_*"))
    print(
        f"\n== {days} days x {ROWS_PER_DAY:,} rows/day: {csv_bytes / 1e9:.2f} GB of CSV "
        f"(generated in {time.monotonic() - started:.0f} s) ==",
        flush=True,
    )
    run = _replay_child(settings, storage, None)
    _, size = _payload_file(storage, tmp / "payloads-days.txt", PAYLOAD_SAMPLE, first_day=True)
    java = _producer_performance(settings, run["rows"], tmp / "payloads-days.txt")
    _print_round(1, java, run)
    print(
        f"{days} days: {run['rows']:,} events, replay end to end {run['end_to_end']:,.0f} "
        f"events/s against ProducerPerformance {java:,.0f} records/s (payload {size:.0f} "
        f"bytes): {run['end_to_end'] / java:.2f}x (goal >= 1x); peak RSS "
        f"{run['peak_mb']:,.0f} MB (goal <= {RSS_GOAL_MB:,} MB)",
        flush=True,
    )
    for path in storage.path("raw").glob("*"):
        path.unlink()


def _payload_file(
    storage: Storage, path: Path, records: int, first_day: bool = False
) -> tuple[int, float]:
    """Write up to `records` events in send order, one a line; (count, mean payload size)."""
    files = select_files(storage, None, None, None)
    count = 0
    with read_source(files[:1] if first_day else files) as source, path.open("wb") as out:
        for table in source.batches():
            batch = table.slice(0, records - count)
            out.write(b"\n".join(payloads(batch)) + b"\n")
            count += batch.num_rows
            if count == records:
                break
    return count, path.stat().st_size / count


def _replay_child(settings: Settings, storage: Storage, limit: int | None) -> dict[str, float]:
    """`read_source` + `replay --max` in a fresh process: its rates and peak RSS."""
    topic = f"bench-replay-{time.monotonic_ns()}"
    client.ensure_topic(settings, topic)
    command = [
        sys.executable,
        __file__,
        "--child",
        storage.root,
        topic,
        settings.kafka.bootstrap_servers,
        str(limit or 0),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=7200, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"replay child failed: {result.stderr[-2000:]}")
    _delete_topic(settings, topic)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _child(root: str, topic: str, bootstrap: str, limit: str) -> int:
    settings = load_settings(None, {"storage.root": root, "kafka.bootstrap_servers": bootstrap})
    started = time.monotonic()
    with read_source(select_files(Storage(root), None, None, None)) as source:
        read_s = time.monotonic() - started
        options = ReplayOptions(topic=topic, mode="max", limit=int(limit) or None)
        summary = replay(settings, source, options)
    total_s = time.monotonic() - started
    assert summary.delivered == summary.sent and not summary.failed, summary
    peak_kb = _vm_hwm_kb()
    result = {
        "rows": summary.sent,
        "read_s": read_s,
        "total_s": total_s,
        "end_to_end": summary.sent / total_s,
        "send_only": summary.rate,
        "read_rate": len(source) / read_s,
        "peak_mb": peak_kb / 1024,
        "runs": len(source.runs),
    }
    print(json.dumps(result))
    return 0


def _vm_hwm_kb() -> int:
    """This process's peak resident memory since its exec, in kB (Linux)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


def _print_round(round_no: int, java: float, run: dict[str, float]) -> None:
    print(
        f"round {round_no}: ProducerPerformance {java:,.0f} rec/s | replay end to end "
        f"{run['end_to_end']:,.0f} events/s ({run['total_s']:.1f} s: read + parse + sort "
        f"{run['read_s']:.1f} s at {run['read_rate']:,.0f} rows/s), send only "
        f"{run['send_only']:,.0f} events/s | ratio {run['end_to_end'] / java:.2f}x | "
        f"peak RSS {run['peak_mb']:,.0f} MB",
        flush=True,
    )


def _producer_performance(settings: Settings, records: int, payload_file: Path) -> float:
    topic = f"bench-java-{time.monotonic_ns()}"
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
        str(payload_file),
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
    result = subprocess.run(command, capture_output=True, text=True, timeout=7200, check=True)
    _delete_topic(settings, topic)
    found = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", result.stdout)
    if not found:
        raise RuntimeError(f"no result from ProducerPerformance: {result.stdout[-500:]}")
    return float(found[-1][1])


def _delete_topic(settings: Settings, topic: str) -> None:
    """Free the broker's disk between cases (a 120-day case sends 44 M events twice)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    for future in admin.delete_topics([topic], operation_timeout=60).values():
        future.result()


if __name__ == "__main__":
    sys.exit(main())
