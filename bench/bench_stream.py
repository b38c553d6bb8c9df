"""Benchmark `retailpipe stream`: against a plain Spark floor by backlog size, continuous vs
`--available-now`, and freshness.

Parts (`--part`, default all; a scratch Kafka broker on free ports serves them all):

1. sizes: for each `--events` size (default 100k, 1M, 3M; `--quick`: 20k) days of events are
   generated (100,000 rows a day, fewer for a smaller size, 12 stores) and replayed with
   `replay --max` into a topic of their own. On that backlog two contenders run, each in
   its own process, timed from its start to its exit (JVM start included):
   - `retailpipe stream --available-now` through the CLI, default stream settings
     (local[2], shuffle partitions 2, maxOffsetsPerTrigger 200,000), a fresh storage root;
   - the Spark floor (FLOOR_JOB): the same settings (maxOffsetsPerTrigger included) and
     session from `retailpipe.spark.create_session` with the Kafka jars, the same state
     store (RocksDB, changelog checkpointing), then
     Kafka -> from_json -> watermark 10 minutes -> count and sum(quantity) per
     (1 h / 5 min sliding window, store) -> Parquet in append mode, availableNow.
   While each contender runs, /proc is sampled every 0.1 s: the peak RSS of the Python
   driver (the CLI process itself, VmHWM), of the JVM it starts (VmHWM) and of the Python
   workers under the JVM (largest sum of their VmRSS seen; forked workers share pages, so
   this over-counts), and the CPU seconds of each (as last seen).
   Goals: retailpipe / floor <= 1.2x at >= 1M events; driver peak RSS <= 1 GB, and flat
   (largest / smallest - 1 <= 20 %) from 100k to 3M events.
2. continuous: the same topic backlog (2 days x 10,000 rows; `--quick` 1 day x 4,000) read
   by the continuously running query (trigger 1 s) and by `--available-now`, both with
   maxOffsetsPerTrigger 5,000, each into a fresh storage root. Rate = events / (time from
   the run manifest's creation, i.e. Spark up and query about to start, to the last event
   counted). Goal: continuous >= 0.7 x available-now.
3. freshness: events are produced at 1,000 events/s (in half-second ticks, each tick under
   its own store id) while the stream runs with a 1 s trigger; a plain pyarrow reader polls
   stream/ every 0.1 s and notes when each tick's store first appears. The first 30 s of
   ticks (`--quick` 20 s) are a warm-up, reported apart (the first batches of a cold JVM and
   Python workers take seconds each); the figures are over the 120 s (`--quick` 45 s) after.
   Goal: p95 <= trigger + 2 s.

The last line printed is one JSON object with every figure (`BENCH_STREAM_JSON {...}`).
Logs of each run are kept when `--keep-logs DIR` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scratch_broker import broker_settings

from retailpipe.generate.run import generate
from retailpipe.infra import kafka_broker
from retailpipe.replay.client import ensure_topic
from retailpipe.replay.run import ReplayOptions, load_and_replay
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import Storage

SHUFFLE_PARTITIONS = 2
MAX_OFFSETS = 5000  # the continuous vs available-now part only
ROWS_PER_DAY = 100_000  # sizes part: days of this many rows (one shorter day for less)
DEFAULT_SIZES = (100_000, 1_000_000, 3_000_000)
QUICK_SIZES = (20_000,)
PACE_EVENTS_PER_S = 1000
TICK_S = 0.5
FRESH_TRIGGER_S = 1
FRESH_SLACK_S = 2
RATIO_GOAL = 1.2
RATIO_GOAL_FROM = 1_000_000
RSS_GOAL_MB = 1024
RSS_FLAT = 0.20
RSS_FLAT_FROM = 100_000
MB = 1024  # /proc figures are in kB
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The least a Spark streaming job that keeps sliding windows per store does, on the same
# session as `retailpipe stream` (settings from the same environment, create_session with
# the Kafka jars, the same state store): no checks, dead letters, de-duplication, distinct
# receipts, money or late counts. Prints one JSON line: the rows it read and, per batch,
# [rows, milliseconds].
FLOOR_JOB = """
import json, sys
from pyspark.sql import functions as F
from retailpipe.schemas import EVENT_SCHEMA
from retailpipe.settings import load_settings
from retailpipe.spark import create_session, with_kafka
from retailpipe.stream.query import STATE_STORE_CONF
out = sys.argv[1]
settings = load_settings()
spark = create_session(settings, "floor", add_ons=[with_kafka])
for key, value in STATE_STORE_CONF.items():
    spark.conf.set(key, value)
reader = (
    spark.readStream.format("kafka")
    .option("kafka.bootstrap.servers", settings.kafka.bootstrap_servers)
    .option("subscribe", settings.kafka.topic)
    .option("startingOffsets", settings.stream.starting_offsets)
    .option("failOnDataLoss", "true")
)
if settings.stream.max_offsets_per_trigger:
    reader = reader.option("maxOffsetsPerTrigger", str(settings.stream.max_offsets_per_trigger))
events = (
    reader.load()
    .select(F.from_json(F.col("value").cast("string"), EVENT_SCHEMA).alias("e"))
    .select(
        F.col("e.event_time").try_cast("timestamp").alias("event_ts"),
        F.col("e.store_id").alias("store_id"),
        F.col("e.quantity").alias("quantity"),
    )
)
windows = (
    events.withWatermark("event_ts", settings.stream.watermark)
    .groupBy(F.window("event_ts", settings.stream.window, settings.stream.slide), "store_id")
    .agg(F.sum("quantity").alias("units"), F.count(F.lit(1)).alias("lines"))
)
query = (
    windows.writeStream.format("parquet")
    .outputMode("append")
    .option("path", out + "/windows")
    .option("checkpointLocation", out + "/checkpoint")
    .trigger(availableNow=True)
    .start()
)
query.awaitTermination()
progress = query.recentProgress
rows = sum(p["numInputRows"] for p in progress)
batches = [[p["numInputRows"], p["durationMs"].get("triggerExecution", 0)] for p in progress]
print("FLOOR " + json.dumps({"input_rows": rows, "batches": batches}), flush=True)
spark.stop()
"""


def _env(settings: Settings, root: Path, topic: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RETAILPIPE_STORAGE__ROOT=str(root),
        RETAILPIPE_KAFKA__BOOTSTRAP_SERVERS=settings.kafka.bootstrap_servers,
        RETAILPIPE_KAFKA__TOPIC=topic,
        RETAILPIPE_SPARK__MASTER="local[2]",
        RETAILPIPE_SPARK__SHUFFLE_PARTITIONS=str(SHUFFLE_PARTITIONS),
    )
    # PySpark starts the stream's Python runners with $PYSPARK_PYTHON, else `python3` from
    # the PATH (spark.pyspark.python, which retailpipe sets, does not reach them); without
    # an activated venv that `python3` may lack numpy/pandas and the query fails at start.
    env.setdefault("PYSPARK_PYTHON", sys.executable)
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
    batches = [b for b in data.get("batches", []) if b.get("output_rows")]
    label = f"median of {len(batches) - 1} warm batches"
    if len(batches) > 1:
        batches = batches[1:]
    elif batches:
        label = "one (cold) batch only"
    else:
        return "no batches"
    names = ["output_rows", *(k for k in batches[0] if k.endswith("_ms"))]
    medians = {name: statistics.median(b.get(name, 0) for b in batches) for name in names}
    figures = ", ".join(f"{name} {value:,.0f}" for name, value in medians.items())
    return f"{label}: {figures}"


# --- /proc sampling ---------------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    """A `/proc/<pid>/status` figure in kB (VmRSS, VmHWM); 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (its threads included); None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return None


def _processes() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, command name)."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                text = handle.read()
        except OSError:
            continue
        head, _, tail = text.rpartition(")")
        comm = head.partition("(")[2]
        fields = tail.split()
        if len(fields) > 1:
            table[int(entry)] = (int(fields[1]), comm)
    return table


def _descendants(root: int, table: dict[int, tuple[int, str]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _comm) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class PeakRss(threading.Thread):
    """Samples a Python driver, its JVM and the JVM's Python workers every `interval` s:
    peak RSS, and CPU seconds as last seen (a worker's last 0.1 s may be missed)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.halt = threading.Event()
        self.driver_kb = self.driver_rss_kb = self.jvm_kb = self.workers_kb = 0
        self.workers_seen = 0
        self.jvm: int | None = None
        self.workers: list[int] = []
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (role, CPU seconds)

    def _find(self) -> None:
        table = _processes()
        below = _descendants(self.pid, table)
        java = [pid for pid in below if table[pid][1] == "java"]
        if java:
            self.jvm = java[0]
            self.workers = [
                pid for pid in _descendants(self.jvm, table) if table[pid][1].startswith("python")
            ]
            self.workers_seen = max(self.workers_seen, len(self.workers))

    def run(self) -> None:
        tick = 0
        while not self.halt.is_set():
            if tick % 5 == 0:  # the process tree every 0.5 s, the figures every tick
                self._find()
            tick += 1
            self.driver_kb = max(self.driver_kb, _status_kb(self.pid, "VmHWM"))
            self.driver_rss_kb = max(self.driver_rss_kb, _status_kb(self.pid, "VmRSS"))
            if self.jvm is not None:
                self.jvm_kb = max(self.jvm_kb, _status_kb(self.jvm, "VmHWM"))
            if self.workers:
                total = sum(_status_kb(pid, "VmRSS") for pid in self.workers)
                self.workers_kb = max(self.workers_kb, total)
            roles = [(self.pid, "driver"), *((pid, "workers") for pid in self.workers)]
            if self.jvm is not None:
                roles.append((self.jvm, "jvm"))
            for pid, role in roles:
                seconds = _cpu_s(pid)
                if seconds is not None:
                    self.cpu[pid] = (role, seconds)
            self.halt.wait(self.interval)

    def figures(self) -> dict[str, float]:
        return {
            "driver_peak_mb": round(self.driver_kb / MB, 1),
            "jvm_peak_mb": round(self.jvm_kb / MB, 1),
            "workers_peak_mb": round(self.workers_kb / MB, 1),
            "workers_seen": self.workers_seen,
            **{
                f"{role}_cpu_s": round(sum(s for r, s in self.cpu.values() if r == role), 1)
                for role in ("driver", "jvm", "workers")
            },
        }


def _run_sampled(
    argv: list[str], env: dict[str, str], log_path: Path, timeout_s: float
) -> tuple[float, dict[str, float]]:
    """Run `argv` to its end: (wall seconds, peak RSS figures). Exits on a failure."""
    with open(log_path, "wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        sampler = PeakRss(proc.pid)
        sampler.start()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=300)
            raise SystemExit(f"{argv[:3]} ran over {timeout_s:.0f} s; log: {log_path}") from None
        finally:
            seconds = time.monotonic() - started
            sampler.halt.set()
            sampler.join()
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-4000:]
        raise SystemExit(f"{argv[:3]} exited with {proc.returncode}; log {log_path}:\n{tail}")
    return seconds, sampler.figures()


# --- part 1: sizes ----------------------------------------------------------------------


def _backlog(settings: Settings, tmp: Path, size: int, stores: int) -> tuple[str, int, str]:
    """Generate about `size` events, replay them into a topic of their own:
    (topic, events delivered, shape)."""
    days = max(1, round(size / ROWS_PER_DAY))
    rows = min(size, ROWS_PER_DAY) if days == 1 else math.ceil(size / days)
    storage = Storage(str(tmp / f"raw-{size}"))
    generate(GenerateSettings(days=days, rows_per_day=rows, stores=stores, workers=1), storage)
    topic = f"bench.size.{size}"
    files = sorted(storage.path("raw").glob("transactions_*.csv"))
    started = time.monotonic()
    summary = load_and_replay(settings, files, ReplayOptions(topic=topic, mode="max"))
    if summary.failed:
        raise SystemExit(f"replay into {topic}: {summary.failed} events failed")
    shutil.rmtree(storage.path("raw"), ignore_errors=True)
    shape = f"{days} day(s) x {rows:,} rows, {stores} stores"
    print(
        f"backlog {topic}: {summary.delivered:,} events ({shape}), replayed in "
        f"{time.monotonic() - started:.0f} s",
        flush=True,
    )
    return topic, summary.delivered, shape


def _rp_batches(root: Path) -> dict[str, Any]:
    data = _manifest(root) or {}
    batches = data.get("batches", [])
    return {
        "batches": len(batches),
        "batch_ms": [b.get("duration_ms", 0) for b in batches],
        "collect_ms": sum(b.get("collect_ms", 0) for b in batches),
        "publish_ms": sum(b.get("publish_ms", 0) for b in batches),
        "output_rows": sum(b.get("output_rows", 0) for b in batches),
        "processed": _processed(data) if data else 0,
        "status": data.get("status"),
    }


def _floor_batches(batches: list[list[int]]) -> str:
    """The floor's batches with rows, as `rows in seconds`."""
    done = [f"{rows:,} in {ms / 1000:.1f} s" for rows, ms in batches if rows]
    return "; ".join(done) or "no rows"


def _one_size(
    settings: Settings, tmp: Path, logs: Path, size: int, args: argparse.Namespace
) -> dict[str, Any]:
    topic, total, shape = _backlog(settings, tmp, size, args.stores)
    rp_times, floor_times, samples, floor_samples = [], [], [], []
    rp_batches: dict[str, Any] = {}
    floor_out: dict[str, Any] = {}
    extra = ["--max-offsets-per-trigger", str(args.max_offsets)] if args.max_offsets else []
    for attempt in range(args.repeat):
        root = tmp / f"rp-{size}-{attempt}"
        env = _env(settings, root, topic)
        seconds, peaks = _run_sampled(
            [_cli(), "stream", "--available-now", *extra],
            env,
            logs / f"retailpipe-{size}-{attempt}.log",
            args.timeout,
        )
        rp_batches = _rp_batches(root)
        if rp_batches["processed"] != total or rp_batches["status"] != "stopped":
            raise SystemExit(
                f"retailpipe stream counted {rp_batches['processed']:,} of {total:,} events "
                f"(status {rp_batches['status']}); manifest under {root / 'runs'}"
            )
        rp_times.append(seconds)
        samples.append(peaks)
        print(
            f"  retailpipe {seconds:7.1f} s  driver {peaks['driver_peak_mb']:6.0f} MB, "
            f"JVM {peaks['jvm_peak_mb']:6.0f} MB, Python workers {peaks['workers_peak_mb']:6.0f}"
            f" MB; CPU s: driver {peaks['driver_cpu_s']:.0f}, JVM {peaks['jvm_cpu_s']:.0f}, "
            f"Python workers {peaks['workers_cpu_s']:.0f}; "
            f"{rp_batches['batches']} batch(es) (ms: {rp_batches['batch_ms']}), "
            f"{rp_batches['output_rows']:,} rows collected, collect "
            f"{rp_batches['collect_ms'] / 1000:.1f} s, publish "
            f"{rp_batches['publish_ms'] / 1000:.1f} s",
            flush=True,
        )
        shutil.rmtree(root, ignore_errors=True)

        out = tmp / f"floor-{size}-{attempt}"
        floor_env = _env(settings, out, topic)
        if args.max_offsets:
            floor_env["RETAILPIPE_STREAM__MAX_OFFSETS_PER_TRIGGER"] = str(args.max_offsets)
        log_path = logs / f"floor-{size}-{attempt}.log"
        seconds, peaks = _run_sampled(
            [sys.executable, "-c", FLOOR_JOB, str(out)], floor_env, log_path, args.timeout
        )
        line = next(
            (x for x in log_path.read_text().splitlines() if x.startswith("FLOOR ")), "FLOOR {}"
        )
        floor_out = json.loads(line.removeprefix("FLOOR "))
        if floor_out.get("input_rows") != total:
            raise SystemExit(f"the floor read {floor_out.get('input_rows')} of {total} events")
        floor_times.append(seconds)
        floor_samples.append(peaks)
        print(
            f"  floor      {seconds:7.1f} s  driver {peaks['driver_peak_mb']:6.0f} MB, "
            f"JVM {peaks['jvm_peak_mb']:6.0f} MB; CPU s: driver {peaks['driver_cpu_s']:.0f}, "
            f"JVM {peaks['jvm_cpu_s']:.0f}; {len(floor_out['batches'])} batch(es), "
            f"{_floor_batches(floor_out['batches'])}",
            flush=True,
        )
        shutil.rmtree(out, ignore_errors=True)
    rp_s, floor_s = statistics.median(rp_times), statistics.median(floor_times)
    return {
        "size": size,
        "events": total,
        "backlog": shape,
        "topic": topic,
        "retailpipe_s": round(rp_s, 2),
        "floor_s": round(floor_s, 2),
        "retailpipe_runs_s": [round(t, 2) for t in rp_times],
        "floor_runs_s": [round(t, 2) for t in floor_times],
        "ratio": round(rp_s / floor_s, 3),
        "events_per_s": round(total / rp_s),
        "floor_events_per_s": round(total / floor_s),
        **{k: max(s[k] for s in samples) for k in samples[0]},
        "floor_driver_peak_mb": max(s["driver_peak_mb"] for s in floor_samples),
        "floor_jvm_peak_mb": max(s["jvm_peak_mb"] for s in floor_samples),
        "floor_cpu_s": {k: max(s[k] for s in floor_samples) for k in ("driver_cpu_s", "jvm_cpu_s")},
        "retailpipe_batches": rp_batches,
        "floor_batches": floor_out.get("batches"),
    }


def _goals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    big = [r for r in rows if r["size"] >= RATIO_GOAL_FROM]
    ratio_ok = all(r["ratio"] <= RATIO_GOAL for r in big) if big else None
    peaks = [r["driver_peak_mb"] for r in rows]
    flat_rows = [r["driver_peak_mb"] for r in rows if r["size"] >= RSS_FLAT_FROM]
    spread = max(flat_rows) / min(flat_rows) - 1 if len(flat_rows) > 1 else None
    return {
        "ratio_max_at_1m_plus": max((r["ratio"] for r in big), default=None),
        "ratio_ok": ratio_ok,
        "driver_peak_mb_max": max(peaks) if peaks else None,
        "driver_peak_ok": max(peaks) <= RSS_GOAL_MB if peaks else None,
        "driver_peak_spread": None if spread is None else round(spread, 3),
        "driver_flat_ok": None if spread is None else spread <= RSS_FLAT,
    }


def sizes(settings: Settings, tmp: Path, logs: Path, args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"sizes: {', '.join(f'{n:,}' for n in args.events)} events; both contenders local[2], "
        f"shuffle partitions {SHUFFLE_PARTITIONS}, maxOffsetsPerTrigger "
        f"{args.max_offsets or settings.stream.max_offsets_per_trigger or 'none'}, RocksDB "
        "state store, availableNow; "
        f"{args.repeat} run(s) each, wall time with JVM start",
        flush=True,
    )
    rows = []
    for size in args.events:
        rows.append(_one_size(settings, tmp, logs, size, args))
    print(
        f"\n{'events':>10} {'retailpipe s':>12} {'floor s':>8} {'ratio':>6} {'events/s':>9} "
        f"{'driver MB':>9} {'JVM MB':>7} {'workers MB':>10} {'floor JVM MB':>12}"
    )
    for r in rows:
        print(
            f"{r['events']:>10,} {r['retailpipe_s']:>12.1f} {r['floor_s']:>8.1f} "
            f"{r['ratio']:>5.2f}x {r['events_per_s']:>9,} {r['driver_peak_mb']:>9.0f} "
            f"{r['jvm_peak_mb']:>7.0f} {r['workers_peak_mb']:>10.0f} "
            f"{r['floor_jvm_peak_mb']:>12.0f}"
        )
    goals = _goals(rows)

    def verdict(ok: bool | None) -> str:
        return "n/a (no such size measured)" if ok is None else ("met" if ok else "NOT met")

    ratio = goals["ratio_max_at_1m_plus"]
    print(
        f"goal ratio <= {RATIO_GOAL}x at >= {RATIO_GOAL_FROM:,} events: "
        + (f"worst {ratio:.2f}x, " if ratio is not None else "")
        + verdict(goals["ratio_ok"])
    )
    print(
        f"goal driver peak RSS <= {RSS_GOAL_MB} MB: worst {goals['driver_peak_mb_max']:.0f} MB, "
        + verdict(goals["driver_peak_ok"])
    )
    spread = goals["driver_peak_spread"]
    print(
        f"goal driver peak RSS flat within {RSS_FLAT:.0%} from {RSS_FLAT_FROM:,} events up: "
        + (f"spread {spread:.0%}, " if spread is not None else "")
        + verdict(goals["driver_flat_ok"]),
        flush=True,
    )
    return {"rows": rows, "goals": goals}


# --- part 2: continuous vs available-now ------------------------------------------------


def _timed_run(
    settings: Settings, root: Path, topic: str, total: int, extra: list[str], log_path: Path
) -> float:
    """Seconds from the run manifest's creation to the last of `total` events counted."""
    command = [_cli(), "stream", "--max-offsets-per-trigger", str(MAX_OFFSETS), *extra]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            env=_env(settings, root, topic),
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started = finished = None
        try:
            while finished is None:
                if proc.poll() is not None and (started is None or proc.returncode != 0):
                    raise SystemExit(f"stream exited with {proc.returncode}; log {log_path}")
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


def throughput(
    settings: Settings, tmp: Path, logs: Path, days: int, rows_per_day: int
) -> dict[str, Any]:
    storage = Storage(str(tmp / "raw-root"))
    generate(GenerateSettings(days=days, rows_per_day=rows_per_day, workers=1), storage)
    topic = "bench.backlog"
    files = sorted(storage.path("raw").glob("transactions_*.csv"))
    summary = load_and_replay(settings, files, ReplayOptions(topic=topic, mode="max"))
    total = summary.delivered
    print(
        f"\ncontinuous vs available-now: {total:,} events on {topic} ({days} day(s) x "
        f"{rows_per_day:,} rows), maxOffsetsPerTrigger {MAX_OFFSETS}",
        flush=True,
    )
    rates, seconds_of = {}, {}
    runs = (("available-now", ["--available-now"]), ("continuous", ["--trigger", "1s"]))
    for name, extra in runs:
        seconds = _timed_run(settings, tmp / name, topic, total, extra, logs / f"{name}.log")
        rates[name] = total / seconds
        seconds_of[name] = round(seconds, 2)
        print(f"  {name:14s} {seconds:7.1f} s  {rates[name]:9,.0f} events/s")
        print(f"  {'':14s} {_phases(tmp / name)}", flush=True)
    ratio = rates["continuous"] / rates["available-now"]
    print(f"throughput ratio continuous / available-now: {ratio:.2f}x (goal >= 0.7x)", flush=True)
    return {
        "events": total,
        "seconds": seconds_of,
        "events_per_s": {k: round(v) for k, v in rates.items()},
        "ratio": round(ratio, 3),
        "ratio_ok": ratio >= 0.7,
    }


# --- part 3: freshness ------------------------------------------------------------------


def _produce_ticks(
    settings: Settings, topic: str, seconds: float, sent: dict[str, float], stop: threading.Event
) -> None:
    import datetime as dt

    from confluent_kafka import Producer

    from retailpipe.replay.events import encode, event

    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 20})
    per_tick = max(1, round(PACE_EVENTS_PER_S * TICK_S))
    tick = 0
    start = time.monotonic()
    end = start + seconds
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
        # Ticks on a fixed schedule: building 500 events takes part of the half second.
        time.sleep(max(0.0, start + tick * TICK_S - time.monotonic()))
    producer.flush(30)


def freshness(
    settings: Settings, tmp: Path, logs: Path, seconds: float, warmup_s: float
) -> dict[str, Any]:
    import pyarrow.dataset as ds

    topic = "bench.fresh"
    ensure_topic(settings, topic)
    root = tmp / "fresh"
    log_path = logs / "freshness.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [
            _cli(),
            "stream",
            "--trigger",
            f"{FRESH_TRIGGER_S}s",
            "--starting-offsets",
            "latest",
        ],
        env=_env(settings, root, topic),
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
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
                raise SystemExit(
                    f"the stream did not start its query ({initial_offsets}); log {log_path}"
                )
            time.sleep(0.2)
        producer = threading.Thread(
            target=_produce_ticks, args=(settings, topic, warmup_s + seconds, sent, stop)
        )
        produced_from = time.monotonic()
        producer.start()
        deadline = time.monotonic() + warmup_s + seconds + 4 * FRESH_TRIGGER_S + 60
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
            time.sleep(0.1)
        stop.set()
        producer.join()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
        log.close()
    goal = FRESH_TRIGGER_S + FRESH_SLACK_S
    measured = {s: t for s, t in sent.items() if t >= produced_from + warmup_s}
    warm = _delays(sent.keys() - measured.keys(), sent, seen)
    figures = {
        "events_per_s": PACE_EVENTS_PER_S,
        "trigger_s": FRESH_TRIGGER_S,
        "warmup_s": warmup_s,
        "goal_s": goal,
        **_delays(measured, sent, seen),
        "warmup": warm,
    }
    figures["ok"] = bool(figures["ticks"]) and figures["p95_s"] <= goal and not figures["missing"]
    if not figures["ticks"]:
        print("freshness: nothing became visible")
        return figures
    p95 = figures["p95_s"]
    print(
        f"\nfreshness over {figures['ticks']} ticks after a {warmup_s:.0f} s warm-up "
        f"({PACE_EVENTS_PER_S} events/s, trigger {FRESH_TRIGGER_S} s): p50 "
        f"{figures['p50_s']:.1f} s, p95 {p95:.1f} s, max {figures['max_s']:.1f} s; goal p95 <= "
        f"{goal} s ({p95 / goal:.2f}x of the goal)"
        + (f", {figures['missing']} never seen" if figures["missing"] else ""),
        flush=True,
    )
    if warm["ticks"]:
        print(
            f"  warm-up ticks ({warm['ticks']}, Spark and its Python workers cold): p50 "
            f"{warm['p50_s']:.1f} s, p95 {warm['p95_s']:.1f} s, max {warm['max_s']:.1f} s",
            flush=True,
        )
    return figures


def _delays(
    stores: Iterable[str], sent: dict[str, float], seen: dict[str, float]
) -> dict[str, Any]:
    """Seconds from a tick's send to its store's first sight: count, p50, p95, max."""
    chosen = list(stores)
    delays = sorted(seen[s] - sent[s] for s in chosen if s in seen)
    missing = len(chosen) - len(delays)
    if not delays:
        return {"ticks": 0, "missing": missing}
    return {
        "ticks": len(delays),
        "p50_s": round(statistics.median(delays), 2),
        "p95_s": round(delays[min(len(delays) - 1, int(0.95 * len(delays)))], 2),
        "max_s": round(delays[-1], 2),
        "missing": missing,
    }


# --- main -------------------------------------------------------------------------------


def _sizes_arg(text: str) -> list[int]:
    return [int(float(part)) for part in text.replace("_", "").split(",") if part.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument(
        "--part",
        choices=("sizes", "continuous", "freshness", "all"),
        default="all",
        help="which part to run (default all)",
    )
    parser.add_argument(
        "--events",
        type=_sizes_arg,
        help="backlog sizes, comma separated (default 100000,1000000,3000000; --quick 20000)",
    )
    parser.add_argument("--stores", type=int, default=12, help="stores in the generated data")
    parser.add_argument(
        "--max-offsets",
        type=int,
        default=0,
        help="maxOffsetsPerTrigger for both contenders of the sizes part (default: "
        "stream.max_offsets_per_trigger's default)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender and size")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run at most")
    parser.add_argument("--keep-logs", help="copy the runs' logs into this folder")
    args = parser.parse_args()
    quick = args.quick or bool(os.environ.get("RETAILPIPE_BENCH_QUICK"))
    args.events = args.events or list(QUICK_SIZES if quick else DEFAULT_SIZES)
    args.repeat = max(1, args.repeat)
    days, rows, fresh_s, warmup_s = (1, 4000, 45.0, 20.0) if quick else (2, 10_000, 120.0, 30.0)
    parts = ("sizes", "continuous", "freshness") if args.part == "all" else (args.part,)
    print(
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; settings: local[2], "
        f"spark.sql.shuffle.partitions={SHUFFLE_PARTITIONS}, state store RocksDB "
        "(changelog checkpointing)",
        flush=True,
    )
    results: dict[str, Any] = {"load_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp_name:
        tmp = Path(tmp_name)
        logs = tmp / "logs"
        logs.mkdir()
        settings = broker_settings(tmp, heap="512m")
        try:
            kafka_broker.start(settings, timeout_s=180)
            if "sizes" in parts:
                results["sizes"] = sizes(settings, tmp, logs, args)
            if "continuous" in parts:
                results["continuous"] = throughput(settings, tmp, logs, days, rows)
            if "freshness" in parts:
                results["freshness"] = freshness(settings, tmp, logs, fresh_s, warmup_s)
        finally:
            kafka_broker.stop(settings)
            if args.keep_logs:
                shutil.copytree(logs, args.keep_logs, dirs_exist_ok=True)
    results["load_at_end"] = os.getloadavg()[0]
    print("BENCH_STREAM_JSON " + json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
