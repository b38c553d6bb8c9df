"""User-facing errors: one line saying what went wrong and how to fix it."""

from __future__ import annotations

import errno
import re


class RetailpipeError(Exception):
    """An error the user can cause and fix; the CLI prints it as one line, no traceback."""

    exit_code = 2

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        """The message and its fix on one line."""
        text = self.message.rstrip(".")
        return f"{text}. Fix: {self.fix}" if self.fix else text


class ConfigError(RetailpipeError):
    """A configuration key or value is wrong."""


class InputError(RetailpipeError):
    """Input data is missing or unusable."""


class ServiceError(RetailpipeError):
    """An external part (Java, Kafka, HDFS, Spark) is missing or does not answer."""

    exit_code = 3


# Spark and Hadoop errors arrive as py4j / Spark exceptions whose text carries the Java (or
# Python worker) cause; these are the ones a user can fix, recognised in one place.
_KNOWN_CAUSES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"No space left on device|Disk quota exceeded"),
        "the disk is full",
        "free space under the storage root (and Spark's local dirs), then run again",
    ),
    (
        re.compile(r"Read-only file system|Permission denied|AccessControlException|Mkdirs failed"),
        "no permission to write under the storage root (or a read-only file system)",
        "make storage.root writable for this user, or pass another --root",
    ),
    (
        re.compile(r"to ([\w.-]+:\d+) failed on connection exception"),
        "nothing answers at {0} (the HDFS NameNode refused the connection)",
        "start HDFS (`retailpipe hdfs up`) or correct the hdfs:// address in storage.root",
    ),
    (
        re.compile(r"OutOfMemoryError|Java heap space|GC overhead limit exceeded"),
        "Spark ran out of memory",
        "raise spark.driver_memory (e.g. RETAILPIPE_SPARK__DRIVER_MEMORY=8g) or process fewer "
        "days at a time (--from/--to)",
    ),
    (
        re.compile(r"No module named '([\w.]+)'"),
        "Spark's Python workers cannot import {0}",
        "run the workers with retailpipe's Python environment (PYSPARK_PYTHON) or install "
        "retailpipe there",
    ),
    (
        re.compile(r"Failed to find data source: kafka"),
        "Spark's Kafka source (spark-sql-kafka-0-10_2.13) is not on Spark's class path",
        "run `python -m retailpipe.infra.jars` to fetch it, then `retailpipe doctor`",
    ),
    (
        re.compile(r"NoSuchMethodError|ClassNotFoundException"),
        "Spark's Kafka source does not match this Spark",
        "the connector must be spark-sql-kafka-0-10_2.13 of exactly the PySpark version; "
        "run `retailpipe doctor` and `python -m retailpipe.infra.jars`",
    ),
)


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's text (its type when it has none)."""
    text = str(exc)
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)


def java_message(exc: BaseException) -> str:
    """The message of the Java exception inside a py4j error (else its first line)."""
    for line in str(exc).splitlines():
        if "Exception:" in line:
            return line.split("Exception:", 1)[1].strip()
    return first_line(exc)


def known_cause(exc: BaseException) -> RetailpipeError | None:
    """The one-line error of a failure a user can fix (a full disk, a missing connector...),
    recognised in a Python OSError or in the text of a Spark/Java exception; else None."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ServiceError(f"the disk is full ({exc.filename or 'writing'})", _KNOWN_CAUSES[0][2])
    text = str(exc)
    for pattern, message, fix in _KNOWN_CAUSES:
        match = pattern.search(text)
        if match:
            return ServiceError(message.format(*match.groups()), fix)
    return None


def from_spark(exc: BaseException, doing: str) -> RetailpipeError:
    """A Spark/Java failure while `doing` something as one line: a known cause with its
    fix, else what failed and that --debug shows the details."""
    return known_cause(exc) or ServiceError(
        f"{doing} failed: {first_line(exc)}", "rerun with --debug for the details"
    )
