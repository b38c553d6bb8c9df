"""Kafka client settings (librdkafka pass-through, secrets masked), topic creation, reachability."""

from __future__ import annotations

import logging
from typing import Any

from retailpipe.errors import ServiceError
from retailpipe.settings import SECRET_MARK, Settings

log = logging.getLogger(__name__)

_SECRET_WORDS = ("password", "secret", "token", "key.pem", "sasl.oauthbearer.config")


def _quiet_logger() -> logging.Logger:
    """A logger for librdkafka's own lines during probes (connection refusals are expected)."""
    quiet = logging.getLogger(f"{__name__}.probe")
    quiet.setLevel(logging.CRITICAL)
    quiet.propagate = False
    return quiet


def client_config(settings: Settings) -> dict[str, Any]:
    """Settings every client shares: bootstrap servers, SASL credentials, `kafka.client`."""
    kafka = settings.kafka
    config: dict[str, Any] = {"bootstrap.servers": kafka.bootstrap_servers}
    if kafka.sasl_username is not None:
        config["sasl.username"] = kafka.sasl_username
    if kafka.sasl_password is not None:
        config["sasl.password"] = kafka.sasl_password.get_secret_value()
    config.update(kafka.client)
    return config


def _probe_config(settings: Settings) -> dict[str, Any]:
    return {**client_config(settings), "logger": _quiet_logger()}


def producer_config(settings: Settings) -> dict[str, Any]:
    """Safe and fast delivery: idempotence, acks=all, compression, batching.

    Keys in `kafka.client` override these defaults (they are passed to librdkafka as is).
    """
    replay = settings.replay
    config: dict[str, Any] = {
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": replay.compression,
        "linger.ms": replay.linger_ms,
        "batch.num.messages": 10_000,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 500_000,
        # librdkafka's own default allows 1 GB of queued events; this bounds replay's memory.
        "queue.buffering.max.kbytes": 131_072,
        "delivery.timeout.ms": replay.delivery_timeout_ms,
        "client.id": "retailpipe-replay",
    }
    config.update(client_config(settings))
    return config


def masked(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a client config that is safe to print or log."""
    return {
        key: SECRET_MARK if any(word in key.lower() for word in _SECRET_WORDS) else value
        for key, value in config.items()
        if not callable(value) and not isinstance(value, logging.Logger)
    }


def cluster_metadata(settings: Settings, timeout_s: float | None = None) -> Any:
    """The cluster's metadata, or a ServiceError within `timeout_s` (default kafka.timeout_s)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    timeout = settings.kafka.timeout_s if timeout_s is None else timeout_s
    admin = AdminClient(_probe_config(settings))
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise unreachable(settings, timeout, exc) from None
    if not metadata.brokers:
        raise unreachable(settings, timeout, "no brokers in the metadata")
    return metadata


def unreachable(settings: Settings, timeout_s: float, cause: object) -> ServiceError:
    servers = settings.kafka.bootstrap_servers
    return ServiceError(
        f"Kafka at {servers} did not answer within {timeout_s:g} s ({_short(cause)})",
        "start a broker (`retailpipe kafka up`) or set kafka.bootstrap_servers "
        "(env RETAILPIPE_KAFKA__BOOTSTRAP_SERVERS)",
    )


def _short(cause: object) -> str:
    text = str(cause.args[0]) if isinstance(cause, Exception) and cause.args else str(cause)
    return text.splitlines()[0][:200] if text else type(cause).__name__


def ensure_topic(settings: Settings, topic: str) -> bool:
    """Create `topic` (kafka.partitions, kafka.replication_factor) unless it exists.
    Returns True when it was created."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    metadata = cluster_metadata(settings)
    if topic in metadata.topics and metadata.topics[topic].error is None:
        return False
    kafka = settings.kafka
    admin = AdminClient(_probe_config(settings))
    request = NewTopic(
        topic, num_partitions=kafka.partitions, replication_factor=kafka.replication_factor
    )
    try:
        admin.create_topics([request], request_timeout=kafka.timeout_s)[topic].result(
            kafka.timeout_s
        )
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise ServiceError(
            f"cannot create topic {topic!r} ({kafka.partitions} partitions, replication "
            f"{kafka.replication_factor}): {_short(exc)}",
            "create it yourself or fix kafka.partitions / kafka.replication_factor "
            f"(the cluster has {len(metadata.brokers)} broker(s))",
        ) from None
    log.info(
        "created topic %s (%d partitions, replication %d)",
        topic,
        kafka.partitions,
        kafka.replication_factor,
    )
    return True


def doctor_check(settings: Settings) -> tuple[bool, str, str]:
    """For `retailpipe doctor`: do the configured bootstrap servers answer (within 5 s)?"""
    servers = settings.kafka.bootstrap_servers
    try:
        metadata = cluster_metadata(settings, timeout_s=min(settings.kafka.timeout_s, 5.0))
    except ServiceError as exc:
        return False, f"{servers} does not answer", exc.fix or ""
    topic = settings.kafka.topic
    has_topic = "exists" if topic in metadata.topics else "not created yet"
    return True, f"{servers}: {len(metadata.brokers)} broker(s), topic {topic} {has_topic}", ""
