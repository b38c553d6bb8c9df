"""Test helpers that talk to the real test broker (127.0.0.1 only)."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

from retailpipe.settings import Settings
from tests.conftest import test_settings

_topics = itertools.count()


def new_topic(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_topics)}"


def stream_settings(root: Path, bootstrap: str, topic: str, **overrides: object) -> Settings:
    return test_settings(
        root,
        **{
            "kafka.bootstrap_servers": bootstrap,
            "kafka.topic": topic,
            "kafka.partitions": 3,
            **overrides,
        },
    )


def replay_generated_day(settings: Settings, root: Path, rows_per_day: int, products: int) -> None:
    """Generate one day (4 stores, 2 % bad and 2 % duplicate rows) under `root` and replay
    it to the settings' topic at full speed: a stream's backlog."""
    from retailpipe.generate.run import generate
    from retailpipe.replay.run import ReplayOptions, load_and_replay
    from retailpipe.settings import GenerateSettings
    from retailpipe.storage import Storage

    params = GenerateSettings(
        days=1,
        rows_per_day=rows_per_day,
        stores=4,
        products=products,
        bad_row_rate=0.02,
        duplicate_rate=0.02,
        workers=1,
    )
    generate(params, Storage(str(root)))
    files = sorted((root / "raw").glob("transactions_*.csv"))
    load_and_replay(settings, files, ReplayOptions(topic=settings.kafka.topic, mode="max"))


def produce(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    """Send (key, value) messages to the settings' topic (created with 3 partitions)."""
    from confluent_kafka import Producer

    from retailpipe.replay.client import ensure_topic

    ensure_topic(settings, settings.kafka.topic)
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "linger.ms": 5,
            "enable.idempotence": True,
        }
    )
    failures: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    for key, value in messages:
        while True:
            try:
                producer.produce(settings.kafka.topic, value=value, key=key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.5)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert not failures, failures


def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for a `retailpipe stream` subprocess using the same settings."""
    env = dict(os.environ)
    env.update(
        RETAILPIPE_STORAGE__ROOT=settings.storage.root,
        RETAILPIPE_KAFKA__BOOTSTRAP_SERVERS=settings.kafka.bootstrap_servers,
        RETAILPIPE_KAFKA__TOPIC=settings.kafka.topic,
        RETAILPIPE_SPARK__MASTER="local[2]",
        RETAILPIPE_SPARK__SHUFFLE_PARTITIONS="2",
        RETAILPIPE_SPARK__DRIVER_MEMORY="768m",
        PYTHONUNBUFFERED="1",
    )
    return env


def cli() -> list[str]:
    return [str(Path(sys.executable).with_name("retailpipe"))]


def topic_messages(settings: Settings) -> dict[tuple[int, int], bytes]:
    """Every message of the settings' topic as {(partition, offset): value}, read back."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"test-reader-{os.getpid()}",
            "enable.auto.commit": False,
        }
    )
    try:
        topic = settings.kafka.topic
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p))[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages: dict[tuple[int, int], bytes] = {}
        while len(messages) < sum(ends.values()):
            msg = consumer.poll(5)
            assert msg is not None, "the topic ended before its high watermarks"
            assert msg.error() is None, msg.error()
            messages[(msg.partition(), msg.offset())] = msg.value()
        return messages
    finally:
        consumer.close()


def batch_offsets(checkpoint: Path, topic: str) -> list[dict[int, int]]:
    """Spark's offsets log: for each batch id in order, the end offset of every partition."""
    folder = checkpoint / "offsets"
    ids = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())
    assert ids == list(range(len(ids))), ids
    ends = []
    for batch_id in ids:
        offsets = json.loads((folder / str(batch_id)).read_text().splitlines()[2])[topic]
        ends.append({int(p): int(o) for p, o in offsets.items()})
    return ends
