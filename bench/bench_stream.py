"""Benchmark: `retailpipe stream` continuous vs `--available-now` on one backlog, and freshness.

1. Throughput: the same topic backlog (generated days, replayed with `replay --max`) is read
   by the continuously running query (trigger 1 s) and by the same query run
   `--available-now`, each into a fresh storage root. Rate = events / (time from the run
   manifest's creation, i.e. Spark up and query about to start, to the last event counted).
   Goal: continuous >= 0.7 x available-now.
2. Freshness: events are produced at the `replay --speed 600` pace (about 140 events/s in
   half-second ticks, each tick under its own store id) while the stream runs with its
   default 10 s trigger; a plain pyarrow reader polls stream/ and notes when each tick's
   store first appears. Goal: p95 <= trigger + 5 s.

Default backlog 2 days x 10,000 rows and 120 s of freshness; `--quick` (or env
RETAILPIPE_BENCH_QUICK=1): 1 day x 4,000 rows and 45 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from scratch_broker import broker_settings

from retailpipe.generate.run import generate
from retailpipe.infra import kafka_broker
from retailpipe.replay.client import ensure_topic
from retailpipe.replay.run import ReplayOptions, load_and_replay
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import Storage

SHUFFLE_PARTITIONS = 2
MAX_OFFSETS = 5000
PACE_EVENTS_PER_S = 140  # 20,000 rows/day at --speed 600
TICK_S = 0.5
FRESH_TRIGGER_S = 10


def _env(settings: Settings, root: Path, topic: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RETAILPIPE_STORAGE__ROOT=str(root),
        RETAILPIPE_KAFKA__BOOTSTRAP_SERVERS=settings.kafka.bootstrap_servers,
        RETAILPIPE_KAFKA__TOPIC=topic,
        RETAILPIPE_SPARK__MASTER="local[2]",
        RETAILPIPE_SPARK__SHUFFLE_PARTITIONS=str(SHUFFLE_PARTITIONS),
    )
    return env


def _cli() -> str:
    return str(Path(sys.executable).with_name("retailpipe"))


def _manifest(root: Path) -> dict | None:
    runs = sorted((root / "runs").glob("stream-*.json"))
    if not runs:
        return None
    try:
        return json.loads(runs[-1].read_text())
    except ValueError:  # pragma: no cover - replaced atomically; read again next poll
        return None


def _processed(data: dict) -> int:
    return sum(data[k] for k in ("events", "late_events", "dead_letter_events", "duplicates"))


def _phases(root: Path) -> str:
    """Median per-batch figures of a run, from its manifest (the first, cold batch left out)."""
    data = _manifest(root) or {}
    batches = [b for b in data.get("batches", []) if b.get("input_rows")]
    label = f"median of {len(batches) - 1} warm batches"
    if len(batches) > 1:
        batches = batches[1:]
    elif batches:
        label = "one (cold) batch only"
    else:
        return "no batches"
    names = ["input_rows", *(k for k in batches[0] if k.endswith("_ms"))]
    medians = {name: statistics.median(b.get(name, 0) for b in batches) for name in names}
    figures = ", ".join(f"{name} {value:,.0f}" for name, value in medians.items())
    return f"{label}: {figures}"


def _timed_run(settings: Settings, root: Path, topic: str, total: int, extra: list[str]) -> float:
    """Seconds from the run manifest's creation to the last of `total` events counted."""
    command = [_cli(), "-q", "stream", "--max-offsets-per-trigger", str(MAX_OFFSETS), *extra]
    proc = subprocess.Popen(
        command, env=_env(settings, root, topic), start_new_session=True, stdout=subprocess.DEVNULL
    )
    started = finished = None
    try:
        while finished is None:
            if proc.poll() is not None and (started is None or proc.returncode != 0):
                raise SystemExit(f"stream exited with {proc.returncode}")
            data = _manifest(root)
            now = time.monotonic()
            if data and started is None:
                started = now
            if data and _processed(data) >= total:
                finished = now
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    assert started is not None
    return finished - started


def throughput(settings: Settings, tmp: Path, days: int, rows_per_day: int) -> None:
    storage = Storage(str(tmp / "raw-root"))
    generate(GenerateSettings(days=days, rows_per_day=rows_per_day, workers=1), storage)
    topic = "bench.backlog"
    files = sorted(storage.path("raw").glob("transactions_*.csv"))
    summary = load_and_replay(settings, files, ReplayOptions(topic=topic, mode="max"))
    total = summary.delivered
    print(f"backlog: {total:,} events on {topic} ({days} day(s) x {rows_per_day:,} rows)")
    rates = {}
    runs = (("available-now", ["--available-now"]), ("continuous", ["--trigger", "1s"]))
    for name, extra in runs:
        seconds = _timed_run(settings, tmp / name, topic, total, extra)
        rates[name] = total / seconds
        print(f"  {name:14s} {seconds:7.1f} s  {rates[name]:9,.0f} events/s")
        print(f"  {'':14s} {_phases(tmp / name)}")
    ratio = rates["continuous"] / rates["available-now"]
    print(f"throughput ratio continuous / available-now: {ratio:.2f}x (goal >= 0.7x)")


def _produce_ticks(
    settings: Settings, topic: str, seconds: float, sent: dict[str, float], stop: threading.Event
) -> None:
    import datetime as dt

    from confluent_kafka import Producer

    from retailpipe.replay.events import encode, event

    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 20})
    per_tick = max(1, round(PACE_EVENTS_PER_S * TICK_S))
    tick = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop.is_set():
        store = f"F{tick:05d}"
        now = dt.datetime.now(dt.UTC)
        sent[store] = time.monotonic()
        for i in range(per_tick):
            fields = (
                f"{store}-{i}",
                "1",
                now.isoformat(),
                store,
                "P1",
                "toys",
                "1",
                "1.00",
                "0.00",
                "card",
                "",
            )
            producer.produce(topic, key=store.encode(), value=encode(event(fields, now, None)))
        producer.poll(0)
        tick += 1
        time.sleep(max(0.0, TICK_S - 0.001))
    producer.flush(30)


def freshness(settings: Settings, tmp: Path, seconds: float) -> None:
    import pyarrow.dataset as ds

    topic = "bench.fresh"
    ensure_topic(settings, topic)
    root = tmp / "fresh"
    proc = subprocess.Popen(
        [
            _cli(),
            "-q",
            "stream",
            "--trigger",
            f"{FRESH_TRIGGER_S}s",
            "--starting-offsets",
            "latest",
        ],
        env=_env(settings, root, topic),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()
    try:
        # The query starts at the offsets that are latest when it first asks Kafka, and
        # records them in its checkpoint; events produced before that would never be read.
        initial_offsets = root / "checkpoints" / "stream" / "sources" / "0" / "0"
        give_up = time.monotonic() + 300
        while not initial_offsets.exists():
            if proc.poll() is not None or time.monotonic() > give_up:
                raise SystemExit(f"the stream did not start its query ({initial_offsets})")
            time.sleep(0.2)
        producer = threading.Thread(
            target=_produce_ticks, args=(settings, topic, seconds, sent, stop)
        )
        producer.start()
        deadline = time.monotonic() + seconds + 4 * FRESH_TRIGGER_S + 60
        while time.monotonic() < deadline:
            folder = root / "stream"
            if folder.is_dir() and any(folder.glob("*.parquet")):
                stores = (
                    ds.dataset(str(folder), format="parquet")
                    .to_table(columns=["store_id"])
                    .column("store_id")
                    .to_pylist()
                )
                now = time.monotonic()
                for store in set(stores) - set(seen):
                    seen[store] = now
            if not producer.is_alive() and sent and set(sent) <= set(seen):
                break
            time.sleep(0.2)
        stop.set()
        producer.join()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    delays = sorted(seen[s] - sent[s] for s in sent if s in seen)
    missing = len(sent) - len(delays)
    if not delays:
        print("freshness: nothing became visible")
        return
    p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))]
    print(
        f"freshness over {len(delays)} ticks ({PACE_EVENTS_PER_S} events/s, trigger "
        f"{FRESH_TRIGGER_S} s): p50 {statistics.median(delays):.1f} s, p95 {p95:.1f} s, "
        f"max {delays[-1]:.1f} s; goal p95 <= {FRESH_TRIGGER_S + 5} s "
        f"({p95 / (FRESH_TRIGGER_S + 5):.2f}x of the goal)"
        + (f", {missing} never seen" if missing else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    quick = args.quick or bool(os.environ.get("RETAILPIPE_BENCH_QUICK"))
    days, rows, fresh_s = (1, 4000, 45.0) if quick else (2, 10_000, 120.0)
    print(
        f"settings: local[2], spark.sql.shuffle.partitions={SHUFFLE_PARTITIONS}, "
        f"maxOffsetsPerTrigger={MAX_OFFSETS}, state store: none (sink-managed Parquet state "
        "versions, see docs/stream.md)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        settings = broker_settings(Path(tmp), heap="512m")
        try:
            kafka_broker.start(settings, timeout_s=180)
            throughput(settings, Path(tmp), days, rows)
            freshness(settings, Path(tmp), fresh_s)
        finally:
            kafka_broker.stop(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
