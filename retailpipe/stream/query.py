"""The streaming plan: Kafka records -> checks -> the stateful step on the executors.

Everything per event happens in Spark: parsing and checks (transforms/events.py), the
shuffle by store, and `WindowProcessor` with its state in Spark's RocksDB state store. The
plan's output is only what changed in a batch (processor.OUTPUT_SCHEMA), for the sink.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from retailpipe.errors import ConfigError
from retailpipe.fs import Files, Location
from retailpipe.stream.options import StreamOptions
from retailpipe.stream.processor import DEAD_KEY, OUTPUT_SCHEMA, WindowProcessor
from retailpipe.transforms.events import checked_events

log = logging.getLogger(__name__)

# Spark's state store for the stateful step: RocksDB on the executors' local disks, with
# changelog checkpointing (each batch uploads the changed keys, not a snapshot).
STATE_STORE_CONF: dict[str, str] = {
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
}


@dataclass(frozen=True)
class KnownIds:
    """The store and product ids of the dimension files (None: no such file, check off)."""

    stores: list[str] | None
    products: list[str] | None


def read_ids(files: Files, path: Location, column: str) -> list[str] | None:
    """The `column` values of a dimension CSV, or None when the file does not exist."""
    if not files.exists(path):
        return None
    try:
        table = pacsv.read_csv(
            io.BytesIO(files.read_bytes(path)),
            convert_options=pacsv.ConvertOptions(
                include_columns=[column], column_types={column: "string"}
            ),
        )
    except (pa.ArrowInvalid, KeyError) as exc:
        raise ConfigError(
            f"{path} cannot be read as a CSV with a {column} column ({exc})",
            f"fix the file (a header row with {column}), or remove it to turn the check off",
        ) from None
    return [value for value in table[column].to_pylist() if value]


def _ids_frame(spark: SparkSession, ids: list[str] | None) -> DataFrame | None:
    if ids is None:
        return None
    return spark.createDataFrame([(value,) for value in ids], "id string")


def keyed_events(kafka: DataFrame, known: KnownIds | None = None) -> DataFrame:
    """Checked Kafka records with the columns the processor reads and its grouping key:
    the store for a valid event, a dead-letter key per Kafka partition for the rest."""
    spark = kafka.sparkSession
    known = known or KnownIds(None, None)
    checked = checked_events(
        kafka, _ids_frame(spark, known.stores), _ids_frame(spark, known.products)
    )
    is_valid = F.col("reason").isNull()

    def if_dead(name: str) -> Column:
        # The raw text and Kafka coordinates travel to the processor for dead letters only.
        return F.when(~is_valid, F.col(name)).alias(name)

    return checked.select(
        F.when(is_valid, F.col("store_id"))
        .otherwise(F.concat(F.lit(DEAD_KEY), F.col("partition").cast("string")))
        .alias("group_key"),
        F.col("event_id"),
        F.unix_micros("event_ts").alias("event_us"),
        F.col("transaction_id"),
        F.col("quantity").cast("long").alias("quantity"),
        (F.col("net_amount") * 100).cast("long").alias("net_cents"),
        F.col("reason"),
        F.col("detail"),
        if_dead("value"),
        if_dead("topic"),
        if_dead("partition"),
        if_dead("offset"),
        F.when(~is_valid, F.unix_micros("kafka_timestamp")).alias("kafka_timestamp_us"),
    )


def changed_rows(kafka: DataFrame, options: StreamOptions, known: KnownIds | None) -> DataFrame:
    """The stateful step over the Kafka stream: per batch, only what changed."""
    processor = WindowProcessor(options.window_us, options.slide_us, options.watermark_us)
    return (
        keyed_events(kafka, known)
        .groupBy("group_key")
        .transformWithStateInPandas(
            statefulProcessor=processor,
            outputStructType=OUTPUT_SCHEMA,
            outputMode="Update",
            timeMode="None",
        )
    )
