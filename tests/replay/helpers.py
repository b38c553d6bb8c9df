"""Test helpers for replay: small generated data, an independent CSV oracle, a consumer."""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from retailpipe.generate.run import generate
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage

PARSE_DEFECTS = {"malformed_row", "bad_number", "bad_timestamp"}


def make_data(root: Path, *, days: int = 2, rows_per_day: int = 300, bad: float = 0.02) -> Storage:
    storage = Storage(str(root))
    params = GenerateSettings(
        days=days,
        rows_per_day=rows_per_day,
        stores=4,
        products=50,
        bad_row_rate=bad,
        duplicate_rate=0.01,
        late_rate=0.01,
        workers=1,
    )
    generate(params, storage)
    return storage


def manifest(storage: Storage) -> dict[str, Any]:
    return json.loads(storage.path("manifest").read_text())


@dataclass(frozen=True)
class CsvRow:
    file: str
    line_number: int
    values: dict[str, str]


def oracle_rows(storage: Storage) -> list[CsvRow]:
    """Every data row of every raw file, read with the csv module, no filtering."""
    rows = []
    for path in sorted(storage.path("raw").glob("transactions_*.csv")):
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            for values in reader:
                rows.append(CsvRow(path.name, reader.line_num, values))
    return rows


def defect_lines(storage: Storage, kinds: set[str]) -> set[tuple[str, int]]:
    return {
        (d["file"], d["line_number"]) for d in manifest(storage)["defects"] if d["kind"] in kinds
    }


def sendable(storage: Storage) -> list[CsvRow]:
    """The rows replay must send: all rows but the generator's unparsable defects."""
    bad = defect_lines(storage, PARSE_DEFECTS)
    return [row for row in oracle_rows(storage) if (row.file, row.line_number) not in bad]


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def new_topic() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def consume(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0, settle_s: float = 2.0
) -> list[Any]:
    """Read a topic from the start until `expected` messages arrived and nothing more comes
    for `settle_s` seconds (so extra messages would be seen), or until `timeout_s`."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    messages: list[Any] = []
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
        consumer.assign(partitions)
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.consume(1000, timeout=0.5)
            good = [m for m in batch if m.error() is None]
            messages.extend(good)
            if good:
                quiet_since = time.monotonic()
            elif len(messages) >= expected and time.monotonic() - quiet_since >= settle_s:
                break
    finally:
        consumer.close()
    return messages
