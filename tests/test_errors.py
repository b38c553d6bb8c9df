"""Spark and Java failures a user can fix become one line with the fix (errors.from_spark)."""

from __future__ import annotations

import pytest

from retailpipe.errors import ServiceError, from_spark


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "org.apache.spark.SparkException: Job aborted\nCaused by: java.io.IOException: "
            "No space left on device\n\tat java.base/java.io.FileOutputStream.writeBytes",
            "the disk is full",
        ),
        (
            '[STREAM_FAILED] ... Traceback (most recent call last):\n  File "x.py"\n'
            "ModuleNotFoundError: No module named 'pandas'",
            "Spark's Python workers cannot import pandas",
        ),
        (
            "[DATA_SOURCE_NOT_FOUND] Failed to find data source: kafka. Please find packages",
            "Spark's Kafka source (spark-sql-kafka-0-10_2.13) is not on Spark's class path",
        ),
        (
            "java.lang.NoSuchMethodError: 'void org.apache.spark.sql.kafka010.Foo.bar()'",
            "Spark's Kafka source does not match this Spark",
        ),
        (
            "An error occurred while calling o1563.create.\n: java.io.IOException: Mkdirs "
            "failed to create file:/data/runs (exists=false, cwd=file:/x): Read-only file system",
            "no permission to write under the storage root (or a read-only file system)",
        ),
        (
            "An error occurred while calling o1563.create.\n: java.io.IOException: Mkdirs "
            "failed to create file:/ro/runs (exists=false, cwd=file:/work/main)",
            "no permission to write under the storage root (or a read-only file system)",
        ),
        (
            "Call From vm/127.0.0.1 to localhost:9999 failed on connection exception: "
            "java.net.ConnectException: Connection refused; For more details see: http://x",
            "nothing answers at localhost:9999 (the HDFS NameNode refused the connection)",
        ),
        (
            "org.apache.spark.SparkException: Job aborted due to stage failure: "
            "java.lang.OutOfMemoryError: Java heap space",
            "Spark ran out of memory",
        ),
    ],
)
def test_known_causes_get_their_own_line_and_fix(text: str, expected: str) -> None:
    error = from_spark(RuntimeError(text), "the streaming query")
    assert isinstance(error, ServiceError)
    assert error.message == expected and error.fix
    assert "\n" not in error.one_line() and "at java" not in error.one_line()


def test_an_unknown_failure_names_what_failed_and_points_to_debug() -> None:
    error = from_spark(RuntimeError("\n  [INTERNAL_ERROR] something odd\n\tat x.y(z)"), "batch")
    assert error.one_line() == (
        "batch failed: [INTERNAL_ERROR] something odd. Fix: rerun with --debug for the details"
    )
