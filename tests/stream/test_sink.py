"""The foreachBatch sink on static Kafka-shaped batches: windows, replays, late, duplicates."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from retailpipe.generate.run import generate
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage
from retailpipe.stream.sink import SinkPaths, WindowSink, checked_records
from tests.stream.oracle import (
    csv_messages,
    csv_rows,
    oracle_from_rows,
    read_late,
    read_windows,
    row_event,
    windows_of,
)

KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
)
HOUR, FIVE_MIN = 3600, 300


def batch(spark, messages: list[tuple[bytes, bytes]], first_offset: int = 0):
    """What foreachBatch hands the sink: Kafka records through `checked_records`."""
    now = dt.datetime(2026, 1, 1)
    rows = [(key, value, "t", 0, first_offset + i, now) for i, (key, value) in enumerate(messages)]
    return checked_records(spark.createDataFrame(rows, KAFKA_SCHEMA))


def make_sink(root: Path, watermark_s: int = 2 * 86400) -> WindowSink:
    paths = SinkPaths(root / "state", root / "stream", root / "late", root / "dead")
    return WindowSink(paths, HOUR * 1_000_000, FIVE_MIN * 1_000_000, watermark_s * 1_000_000)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stream-raw")
    params = GenerateSettings(
        days=1,
        rows_per_day=400,
        stores=3,
        products=50,
        bad_row_rate=0.03,
        duplicate_rate=0.03,
        workers=1,
    )
    generate(params, Storage(str(root)))
    return root / "raw"


def assert_windows_equal_oracle(folder: Path, expected: dict) -> None:
    seen = read_windows(folder)
    keys = Counter(key for key, _ in seen)
    assert max(keys.values()) == 1, "a plain reader sees a window twice"
    assert dict(seen) == expected


def test_one_batch_matches_the_csv_oracle(spark, raw: Path, tmp_path: Path) -> None:
    sink = make_sink(tmp_path)
    sink(batch(spark, csv_messages(raw)), 0)
    assert_windows_equal_oracle(tmp_path / "stream", oracle_from_rows(csv_rows(raw)))
    manifest = json.loads((raw / "_manifest.json").read_text())
    bad_kinds = {"malformed_row", "bad_number", "bad_timestamp", "negative_price", "zero_quantity"}
    expected_dead = sum(1 for d in manifest["defects"] if d["kind"] in bad_kinds)
    dead = ds.dataset(str(tmp_path / "dead"), format="parquet").to_table()
    assert dead.num_rows == expected_dead > 0
    assert sink.state.totals["duplicates"] == manifest["totals"]["defects"]["duplicate"]


def test_a_batch_replayed_after_a_crash_is_not_counted_twice(spark, raw, tmp_path) -> None:
    messages = csv_messages(raw)
    thirds = [
        messages[: len(messages) // 3],
        messages[len(messages) // 3 : 2 * len(messages) // 3],
        messages[2 * len(messages) // 3 :],
    ]
    offsets = [0, len(thirds[0]), len(thirds[0]) + len(thirds[1])]
    sink = make_sink(tmp_path)
    for batch_id in (0, 1, 2):
        sink(batch(spark, thirds[batch_id], offsets[batch_id]), batch_id)
    # Crash after batch 2 published its windows but before its state version was committed.
    shutil.rmtree(tmp_path / "state" / f"state-{2:012d}")
    restarted = make_sink(tmp_path)
    assert restarted.state.batch_id == 1
    restarted(batch(spark, thirds[2], offsets[2]), 2)
    # Crash after the state commit but before Spark's own commit: Spark replays batch 2 again.
    make_sink(tmp_path)(batch(spark, thirds[2], offsets[2]), 2)
    assert_windows_equal_oracle(tmp_path / "stream", oracle_from_rows(csv_rows(raw)))


def _event(store: str, when: str, receipt: str, quantity: int = 1, price: str = "2.50") -> bytes:
    row = {
        "transaction_id": receipt,
        "line_no": "1",
        "timestamp": when,
        "store_id": store,
        "product_id": "P1",
        "category": "toys",
        "quantity": str(quantity),
        "unit_price": price,
        "discount_pct": "0.00",
        "payment_method": "card",
        "customer_id": "",
    }
    return json.dumps(row_event(row)).encode()


def test_late_events_are_counted_per_window_and_excluded(spark, tmp_path: Path) -> None:
    sink = make_sink(tmp_path, watermark_s=600)
    first = [
        _event("S1", "2026-01-01T12:00:00+00:00", "A"),
        _event("S1", "2026-01-01T12:30:00+00:00", "B"),
    ]
    sink(batch(spark, [(b"S1", v) for v in first]), 0)  # watermark -> 12:20
    second = [
        _event("S1", "2026-01-01T12:25:00+00:00", "C", price="1.00"),  # within watermark
        _event("S1", "2026-01-01T12:05:00+00:00", "D"),  # late
        _event("S2", "2026-01-01T11:00:00+00:00", "E"),
    ]  # late
    sink(batch(spark, [(b"S", v) for v in second], 2), 1)

    on_time = [
        ("S1", "2026-01-01T12:00:00+00:00", "A", "2.50"),
        ("S1", "2026-01-01T12:30:00+00:00", "B", "2.50"),
        ("S1", "2026-01-01T12:25:00+00:00", "C", "1.00"),
    ]
    rows = [
        {
            "transaction_id": r,
            "line_no": "1",
            "timestamp": t,
            "store_id": s,
            "quantity": "1",
            "unit_price": p,
            "discount_pct": "0",
        }
        for s, t, r, p in on_time
    ]
    assert_windows_equal_oracle(tmp_path / "stream", oracle_from_rows(rows))

    expected_late: Counter = Counter()
    for store, when in (("S1", "2026-01-01T12:05:00+00:00"), ("S2", "2026-01-01T11:00:00+00:00")):
        for start, end in windows_of(dt.datetime.fromisoformat(when), HOUR, FIVE_MIN):
            expected_late[(start, end, store)] += 1
            expected_late[(start, end, "ALL")] += 1
    assert read_late(tmp_path / "late") == dict(expected_late)
    assert sink.state.totals["late_events"] == 2


def test_duplicate_event_ids_count_once(spark, tmp_path: Path) -> None:
    sink = make_sink(tmp_path)
    event = _event("S1", "2026-01-01T12:00:00+00:00", "A", quantity=3, price="1.99")
    sink(batch(spark, [(b"S1", event)]), 0)
    sink(batch(spark, [(b"S1", event), (b"S1", event)], 1), 1)
    noon = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    window = (noon, noon + dt.timedelta(hours=1))
    values = dict(read_windows(tmp_path / "stream"))
    assert values[(*window, "S1")] == (1, 3, Decimal("5.97"))
    assert values[(*window, "ALL")] == (1, 3, Decimal("5.97"))
    assert sink.state.totals["duplicates"] == 2
