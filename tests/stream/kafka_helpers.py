"""Test helpers that talk to the real test broker (127.0.0.1 only)."""

from __future__ import annotations

import itertools
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
