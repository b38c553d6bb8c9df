"""`replay` against a real broker: what a plain consumer reads equals the CSV rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from retailpipe.errors import ServiceError
from retailpipe.replay.run import ReplayOptions, replay
from retailpipe.replay.source import read_source, select_files
from retailpipe.settings import Settings, load_settings
from retailpipe.storage import Storage
from tests.replay.helpers import consume, make_data, new_topic, sendable, utc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Storage:
    return make_data(tmp_path_factory.mktemp("replay-kafka"), days=2, rows_per_day=400)


def _settings(storage: Storage, bootstrap: str, **extra: object) -> Settings:
    return load_settings(
        None,
        {
            "storage.root": storage.root,
            "kafka.bootstrap_servers": bootstrap,
            "kafka.timeout_s": 10.0,
            **extra,
        },
    )


def _replay(storage: Storage, bootstrap: str, topic: str, **options: object) -> object:
    settings = _settings(storage, bootstrap)
    source = read_source(select_files(storage, None, None, None))
    return replay(settings, source, ReplayOptions(topic=topic, **options))  # type: ignore[arg-type]


def test_consumer_reads_every_row_once_with_equal_fields(
    storage: Storage, kafka_broker: str
) -> None:
    topic = new_topic()
    summary = _replay(storage, kafka_broker, topic)
    expected = sendable(storage)
    assert (summary.sent, summary.delivered, summary.failed) == (len(expected),) * 2 + (0,)
    messages = consume(kafka_broker, topic, len(expected))
    assert len(messages) == len(expected)

    events = [json.loads(m.value()) for m in messages]
    assert all(m.key().decode() == e["store_id"] for m, e in zip(messages, events, strict=True))
    # Duplicated lines in the CSV are sent as they are: (transaction_id, line_no) repeats,
    # but compare as multisets of full rows.
    got = sorted(_as_row(e) for e in events)
    want = sorted(_csv_as_row(r.values) for r in expected)
    assert got == want
    assert all(e["event_time"] == e["timestamp"] and e["schema_version"] == 1 for e in events)
    ids: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for e in events:
        ids[e["event_id"]].add((e["transaction_id"], e["line_no"]))
    assert all(len(keys) == 1 for keys in ids.values()), "one id per row key"
    assert len(ids) == len({(r.values["transaction_id"], r.values["line_no"]) for r in expected})

    # Per store, events arrive in event-time order (one key -> one partition, in order).
    per_partition: dict[tuple[int, str], list] = defaultdict(list)
    for m, e in zip(messages, events, strict=True):
        per_partition[(m.partition(), e["store_id"])].append((m.offset(), utc(e["event_time"])))
    for sequence in per_partition.values():
        times = [t for _, t in sorted(sequence)]
        assert times == sorted(times)
    assert len({store for _, store in per_partition}) == len(per_partition), "store split"


def test_event_ids_are_stable_across_replays(storage: Storage, kafka_broker: str) -> None:
    first, second = new_topic(), new_topic()
    for topic in (first, second):
        _replay(storage, kafka_broker, topic, limit=300)
    ids = [
        {
            (e["transaction_id"], e["line_no"]): e["event_id"]
            for e in (json.loads(m.value()) for m in consume(kafka_broker, topic, 300))
        }
        for topic in (first, second)
    ]
    assert len(ids[0]) > 250 and ids[0] == ids[1]


def test_loop_and_limit_send_new_ids_each_pass(storage: Storage, kafka_broker: str) -> None:
    topic = new_topic()
    rows = sendable(storage)
    summary = _replay(
        storage, kafka_broker, topic, loop=True, limit=len(rows) + 50, shift_to_now=True
    )
    assert summary.passes == 2 and summary.delivered == len(rows) + 50
    events = [json.loads(m.value()) for m in consume(kafka_broker, topic, len(rows) + 50)]
    ids: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in events:
        ids[(e["transaction_id"], e["line_no"])].add(e["event_id"])
    # The second pass sent the 50 earliest rows again, under new ids.
    earliest = sorted(rows, key=lambda r: utc(r.values["timestamp"]))[:50]
    again = {(r.values["transaction_id"], int(r.values["line_no"])) for r in earliest}
    assert {key for key, found in ids.items() if len(found) == 2} == again
    assert all(len(found) <= 2 for found in ids.values())
    # --shift-to-now at --max: the last event of a pass happens now.
    latest = max(utc(e["event_time"]) for e in events)
    assert abs((latest - dt.datetime.now(dt.UTC)).total_seconds()) < 120


def test_rejected_events_are_counted_as_failed_not_delivered(
    storage: Storage, kafka_broker: str
) -> None:
    """Without a listener only failed deliveries call back; the counts must still add up."""
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = new_topic()
    admin = AdminClient({"bootstrap.servers": kafka_broker})
    small = NewTopic(
        topic, num_partitions=1, replication_factor=1, config={"max.message.bytes": "200"}
    )  # every event batch is larger
    admin.create_topics([small])[topic].result(30)
    settings = _settings(storage, kafka_broker, **{"replay.flush_timeout_s": 30.0})
    source = read_source(select_files(storage, None, None, None))
    summary = replay(settings, source, ReplayOptions(topic=topic, limit=40))
    assert (summary.sent, summary.delivered, summary.failed) == (40, 0, 40)
    assert "MSG_SIZE_TOO_LARGE" in summary.errors
    assert consume(kafka_broker, topic, 0, timeout_s=5, settle_s=1) == []


def test_unreachable_broker_fails_within_the_timeout(storage: Storage) -> None:
    settings = _settings(storage, "127.0.0.1:1", **{"kafka.timeout_s": 2.0})
    source = read_source(select_files(storage, None, None, None))
    started = time.monotonic()
    with pytest.raises(ServiceError, match="did not answer within 2 s"):
        replay(settings, source, ReplayOptions(topic="never"))
    assert time.monotonic() - started < 10


def test_cli_missing_input_and_unreachable_broker(tmp_path: Path, storage: Storage) -> None:
    missing = _cli(["replay", "--root", str(tmp_path), "--max"], {})
    assert missing.returncode == 2 and "no raw folder" in missing.stderr
    assert "Traceback" not in missing.stderr
    down = _cli(
        ["replay", "--root", storage.root, "--bootstrap-servers", "127.0.0.1:1"],
        {"RETAILPIPE_KAFKA__TIMEOUT_S": "2"},
    )
    assert down.returncode == 3 and "did not answer" in down.stderr


def test_ctrl_c_flushes_and_summarises(storage: Storage, kafka_broker: str) -> None:
    topic = new_topic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "retailpipe",
            "replay",
            "--root",
            storage.root,
            "--topic",
            topic,
            "--rate",
            "50",
            "--bootstrap-servers",
            kafka_broker,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Interrupt once events are flowing (not after a fixed time: start-up may be slow).
    assert _wait_for_messages(kafka_broker, topic, 60, process), "no events arrived"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=90)
    assert process.returncode == 130, err
    assert "interrupted" in out
    found = re.search(r"delivered\W+([\d,]+)", out)
    assert found, out
    delivered = int(found.group(1).replace(",", ""))
    assert 50 < delivered < len(sendable(storage))
    events = [json.loads(m.value()) for m in consume(kafka_broker, topic, delivered)]
    assert len(events) == delivered
    assert len({(e["event_id"]) for e in events}) == delivered - _dupes_in(events)


def _wait_for_messages(
    bootstrap: str, topic: str, count: int, process: subprocess.Popen[str]
) -> bool:
    """Wait until `topic` holds `count` messages; False if `process` ends or 120 s pass."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": new_topic()})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if metadata is not None and metadata.error is None:
                try:
                    ends = [
                        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                        for p in metadata.partitions
                    ]
                except KafkaException:  # a new topic's leaders are still being elected
                    ends = []
                if sum(ends) >= count:
                    return True
            time.sleep(0.2)
        return False
    finally:
        consumer.close()


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "retailpipe", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


def _as_row(e: dict) -> tuple:
    return (
        e["transaction_id"],
        e["line_no"],
        e["timestamp"],
        e["store_id"],
        e["product_id"],
        e["category"],
        e["quantity"],
        Decimal(e["unit_price"]),
        Decimal(e["discount_pct"]),
        e["payment_method"],
        e["customer_id"] or "",
    )


def _csv_as_row(v: dict[str, str]) -> tuple:
    return (
        v["transaction_id"],
        int(v["line_no"]),
        v["timestamp"],
        v["store_id"],
        v["product_id"],
        v["category"],
        int(v["quantity"]),
        Decimal(v["unit_price"]),
        Decimal(v["discount_pct"]),
        v["payment_method"],
        v["customer_id"],
    )


def _dupes_in(events: list[dict]) -> int:
    """Rows whose CSV line is an exact duplicate share an id by design."""
    keys = [(e["transaction_id"], e["line_no"]) for e in events]
    return len(keys) - len(set(keys))
