"""The stream's edge: Spark's Kafka source, and a clear line when it or the broker is missing."""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, SparkSession

from retailpipe.errors import ServiceError, from_spark
from retailpipe.settings import Settings

log = logging.getLogger(__name__)


def _java_client_options(settings: Settings) -> dict[str, str]:
    """The librdkafka settings that mean the same to the Java consumer, prefixed `kafka.`."""
    kafka = settings.kafka
    options = {
        f"kafka.{key}": str(value)
        for key, value in kafka.client.items()
        if key in ("security.protocol", "sasl.mechanism", "client.id")
    }
    if kafka.sasl_username and kafka.sasl_password is not None:
        mechanism = str(kafka.client.get("sasl.mechanism", "PLAIN")).upper()
        module = (
            "org.apache.kafka.common.security.scram.ScramLoginModule"
            if mechanism.startswith("SCRAM")
            else "org.apache.kafka.common.security.plain.PlainLoginModule"
        )
        secret = kafka.sasl_password.get_secret_value()
        options["kafka.sasl.jaas.config"] = (
            f'{module} required username="{kafka.sasl_username}" password="{secret}";'
        )
    return options


def wait_for_topic(settings: Settings, *, wait: bool) -> int:
    """The topic's partition count; waits for it to appear when `wait` (replay creates it)."""
    from retailpipe.replay.client import cluster_metadata

    kafka = settings.kafka
    announced = False
    while True:
        topic = cluster_metadata(settings).topics.get(kafka.topic)
        if topic is not None and topic.error is None and topic.partitions:
            return len(topic.partitions)
        if not wait:
            raise ServiceError(
                f"topic {kafka.topic!r} does not exist on {kafka.bootstrap_servers}",
                "send events first with `retailpipe replay`, or pass --topic",
            )
        if not announced:
            log.info("waiting for topic %s to appear (start `retailpipe replay`)", kafka.topic)
            announced = True
        time.sleep(2.0)


def kafka_stream(spark: SparkSession, settings: Settings) -> DataFrame:
    """`spark.readStream.format("kafka")` on the configured topic, or one clear error line."""
    stream = settings.stream
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka.bootstrap_servers)
        .option("subscribe", settings.kafka.topic)
        .option("startingOffsets", stream.starting_offsets)
        .option("failOnDataLoss", "true")
        .options(**_java_client_options(settings))
    )
    if stream.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(stream.max_offsets_per_trigger))
    try:
        return reader.load()
    except Exception as exc:
        raise from_spark(exc, "opening Spark's Kafka source") from None
