"""`replay --speed` and `--rate` against a real broker: no event leaves before its time.

The clock is the broker's record timestamp (CreateTime, stamped by librdkafka when each
event is produced), not the replay's own. The checks are one-sided: an event sent before
its schedule is a bug; one sent late is only load on a shared machine, so lateness is
bounded generously (the whole replay within 3x its schedule plus 2 s).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, KafkaException, TopicPartition

from tests import processes
from tests.replay.helpers import consume, new_topic, utc

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
HEADER = (
    *("transaction_id", "line_no", "timestamp", "store_id", "product_id", "category"),
    *("quantity", "unit_price", "discount_pct", "payment_method", "customer_id"),
)
# Seconds from the first event: gaps of 0, 1, 3 and 10 s, each instant carrying a burst of
# events across four stores (so across partitions).
OFFSETS_S = (0, 0, 1, 4, 14)
PER_INSTANT = 20
SPEED = 5.0
RATE, RATE_EVENTS = 100.0, 300
# Allowed earliness relative to the first event: CreateTime has millisecond resolution, and
# the pacer's clock starts just before the first event is produced (a busy machine may
# pause the process in between). A pacing bug (a wrong factor, a skipped wait) is early by
# tens to hundreds of ms.
EARLY_MS = 20


def write_day(root: Path, offsets_s: list[int], stores: int = 4) -> Path:
    """One raw day file under `root`/raw with a line per offset (seconds after START), in
    time order; transaction ids T00000, T00001, ... follow the rows. Returns `root`."""
    raw = root / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with (raw / f"transactions_{START:%Y-%m-%d}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index, offset in enumerate(offsets_s):
            when = START + dt.timedelta(seconds=offset)
            if index % 3 == 0:  # the same instant written in another UTC offset
                when = when.astimezone(dt.timezone(dt.timedelta(hours=2)))
            store = f"S{index % stores + 1:03d}"
            row = [f"T{index:05d}", 1, when.isoformat(), store, "P001", "grocery", 1, "2.50"]
            writer.writerow([*row, "0.00", "card", ""])
    return root


def replay_cli(root: Path, bootstrap: str, topic: str, *flags: str) -> str:
    """Run `retailpipe replay` on `root` to `topic`; returns its standard output."""
    command = [sys.executable, "-m", "retailpipe", "replay", "--root", str(root)]
    command += ["--topic", topic, "--bootstrap-servers", bootstrap, *flags]
    done = processes.run(command, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def messages_in(bootstrap: str, topic: str) -> int:
    """The number of messages in `topic` (its partitions' high watermarks); 0 while the topic
    or its partitions' leaders are not there yet."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": new_topic()})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        try:
            return sum(
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in metadata.partitions
            )
        except KafkaException:  # a new topic's leaders are still being elected
            return 0
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str, count: int) -> list[tuple[int, dict[str, Any]]]:
    """Every message of `topic` as (CreateTime in ms, event); exactly `count`, each row once."""
    assert messages_in(bootstrap, topic) == count  # the replay has ended: all are there
    messages = consume(bootstrap, topic, count, settle_s=0.2)
    assert len(messages) == count, f"{len(messages)} messages for {count} rows"
    assert {m.timestamp()[0] for m in messages} == {TIMESTAMP_CREATE_TIME}
    stamped = [(m.timestamp()[1], json.loads(m.value())) for m in messages]
    ids = Counter(event["transaction_id"] for _, event in stamped)
    assert ids == Counter(f"T{i:05d}" for i in range(count)), "a row missing or repeated"
    return stamped


def assert_on_schedule(sent_ms: list[int], due_s: list[float], planned_s: float) -> None:
    """Event i was due `due_s[i]` seconds after the first; none may be sent earlier (less
    EARLY_MS), and the whole replay may take at most 3x `planned_s` plus 2 s."""
    first = min(sent_ms)
    early = [
        (i, sent - first, round(due * 1000))
        for i, (sent, due) in enumerate(zip(sent_ms, due_s, strict=True))
        if sent - first < due * 1000 - EARLY_MS
    ]
    assert not early, f"sent ahead of schedule (index, sent ms, due ms): {early[:10]}"
    took_s = (max(sent_ms) - first) / 1000
    assert took_s <= 3 * planned_s + 2, f"{took_s:.2f} s for a {planned_s:.2f} s schedule"


def test_speed_keeps_every_gap_scaled(tmp_path: Path, kafka_broker: str) -> None:
    offsets = sorted(OFFSETS_S * PER_INSTANT)
    root = write_day(tmp_path, offsets)
    topic = new_topic()
    out = replay_cli(root, kafka_broker, topic, "--speed", f"{SPEED:g}")
    assert "interrupted" not in out

    stamped = read_all(kafka_broker, topic, len(offsets))
    due = [offsets[int(event["transaction_id"][1:])] / SPEED for _, event in stamped]
    assert_on_schedule([sent for sent, _ in stamped], due, max(offsets) / SPEED)


def test_shift_to_now_makes_the_first_event_now(tmp_path: Path, kafka_broker: str) -> None:
    offsets = [0, 0, 1, 3, 10, 10]
    root = write_day(tmp_path, offsets)
    topic = new_topic()
    speed = 50.0
    replay_cli(root, kafka_broker, topic, "--speed", f"{speed:g}", "--shift-to-now")

    stamped = read_all(kafka_broker, topic, len(offsets))
    due = [offsets[int(event["transaction_id"][1:])] / speed for _, event in stamped]
    assert_on_schedule([sent for sent, _ in stamped], due, max(offsets) / speed)
    # One whole-second shift for every event; `timestamp` keeps the CSV's text.
    shifts = {utc(e["event_time"]) - utc(e["timestamp"]) for _, e in stamped}
    assert len(shifts) == 1 and next(iter(shifts)).microseconds == 0, shifts
    written = {f"T{i:05d}": START + dt.timedelta(seconds=s) for i, s in enumerate(offsets)}
    assert all(utc(e["timestamp"]) == written[e["transaction_id"]] for _, e in stamped)
    # The first event happens "now": its shifted time is its send time, give or take the
    # rounding to whole seconds and the start-up between the shift and the first send.
    first_sent, first = min(stamped, key=lambda pair: (pair[0], pair[1]["transaction_id"]))
    sent_at = dt.datetime.fromtimestamp(first_sent / 1000, dt.UTC)
    assert abs((utc(first["event_time"]) - sent_at).total_seconds()) <= 1.5


def test_rate_is_never_ahead_of_one_event_per_interval(tmp_path: Path, kafka_broker: str) -> None:
    offsets = list(range(RATE_EVENTS))  # event times do not matter at a fixed rate
    root = write_day(tmp_path, offsets)
    topic = new_topic()
    replay_cli(root, kafka_broker, topic, "--rate", f"{RATE:g}")

    stamped = read_all(kafka_broker, topic, len(offsets))
    # Events go out in event-time order (here: transaction id order), event i at i / rate.
    sent = [s for s, _ in sorted(stamped, key=lambda pair: pair[1]["transaction_id"])]
    assert sent == sorted(sent), "sent out of event-time order"
    due = [i / RATE for i in range(len(sent))]
    assert_on_schedule(sent, due, (len(sent) - 1) / RATE)
