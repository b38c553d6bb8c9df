"""Per-store watermarks against a real broker: a rate-limited catch-up marks nothing late,
and hand-placed late events are counted exactly, per window, as the batches saw them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from retailpipe.generate.run import generate
from retailpipe.replay.run import ReplayOptions, load_and_replay
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage
from retailpipe.stream.run import run_stream
from tests.stream.kafka_helpers import (
    batch_offsets,
    new_topic,
    produce,
    stream_settings,
    topic_messages,
)
from tests.stream.oracle import json_event, read_late, read_windows, replay_batches

pytestmark = pytest.mark.integration
DELAY_S = 600


def _published(root: Path) -> dict:
    seen = read_windows(root / "stream")
    assert max(Counter(k for k, _ in seen).values()) == 1, "a window appears twice"
    return dict(seen)


def test_rate_limited_catch_up_marks_no_on_time_event_late(spark, kafka_broker, tmp_path) -> None:
    settings = stream_settings(
        tmp_path,
        kafka_broker,
        new_topic("catchup"),
        **{"stream.max_offsets_per_trigger": 1500},
    )
    params = GenerateSettings(
        days=2, rows_per_day=6000, stores=7, products=60, duplicate_rate=0.02, workers=1
    )
    generate(params, Storage(str(tmp_path)))
    raw_files = sorted((tmp_path / "raw").glob("transactions_*.csv"))
    load_and_replay(settings, raw_files, ReplayOptions(topic=settings.kafka.topic, mode="max"))

    result = run_stream(spark, settings, available_now=True)

    messages = topic_messages(settings)
    ends = batch_offsets(tmp_path / "checkpoints" / "stream", settings.kafka.topic)
    assert len(ends) >= 8, "the backlog was not read in small batches"
    # The case is reached: one global watermark would have called on-time events late.
    _, global_late = replay_batches(messages, ends, DELAY_S, per_store=False)
    assert sum(global_late.values()) > 0
    expected, late = replay_batches(messages, ends, DELAY_S)
    assert not late and result.late_events == 0
    assert not (tmp_path / "stream_late").is_dir() or not read_late(tmp_path / "stream_late")
    assert _published(tmp_path) == expected


def test_late_events_are_counted_per_window_as_the_batches_saw_them(
    spark, kafka_broker, tmp_path
) -> None:
    """Each store's stream holds events sent out of order, some behind its own watermark;
    with 2 events per partition per batch, which ones are late depends on the batches."""
    settings = stream_settings(
        tmp_path, kafka_broker, new_topic("late"), **{"stream.max_offsets_per_trigger": 6}
    )
    stores = ("S1", "S2", "S3")
    times = ("10:00", "10:40", "10:05", "11:30", "10:31", "11:35", "11:10", "10:59", "12:00")
    messages = [
        (store.encode(), json_event(store, f"2026-01-01T{t}:00+00:00", f"{store}-{i}"))
        for i, t in enumerate(times)
        for store in stores
    ]
    messages.append((b"S1", messages[0][1]))  # a duplicate, sent again at the end
    produce(settings, messages)

    result = run_stream(spark, settings, available_now=True)

    ends = batch_offsets(tmp_path / "checkpoints" / "stream", settings.kafka.topic)
    expected, late = replay_batches(topic_messages(settings), ends, DELAY_S)
    assert sum(late.values()) > 0, "no event was late: the test misses its case"
    assert read_late(tmp_path / "stream_late") == dict(late)
    assert _published(tmp_path) == expected
    stores_table = ds.dataset(str(tmp_path / "stream_stores"), format="parquet").to_table()
    assert sorted(stores_table["store_id"].to_pylist()) == list(stores)
    # Each late event counted once: per store, per batch and in total alike.
    late_events = sum(stores_table["late_events"].to_pylist())
    manifest = json.loads(Path(result.manifest).read_text())
    assert (
        manifest["late_events"] == late_events == sum(b["late_events"] for b in manifest["batches"])
    )
    assert late_events * 12 * 2 == sum(late.values())  # 12 windows each, store and ALL


def test_unknown_stores_and_overlong_fields_are_dead_letters(spark, kafka_broker, tmp_path) -> None:
    settings = stream_settings(tmp_path, kafka_broker, new_topic("unknown"))
    raw = tmp_path / "raw"
    raw.mkdir(parents=True)
    (raw / "stores.csv").write_text("store_id,name\nS1,Main street\n")
    (raw / "products.csv").write_text("product_id,name\nP1,Teddy\n")
    good = json_event("S1", "2026-01-01T12:00:00+00:00", "A")
    unknown_store = json_event("S9", "2026-01-01T12:00:00+00:00", "B")
    unknown_product = good.replace(b'"product_id": "P1"', b'"product_id": "P9"').replace(
        b'"transaction_id": "A"', b'"transaction_id": "C"'
    )
    huge = "X" * 100_000
    overlong = json_event(huge, "2026-01-01T12:00:00+00:00", "D")
    produce(settings, [(b"S1", good), (b"S9", unknown_store), (b"S1", unknown_product)])
    produce(settings, [(b"X", overlong)])

    result = run_stream(spark, settings, available_now=True)

    dead = ds.dataset(str(tmp_path / "stream_dead_letter"), format="parquet").to_table()
    reasons = sorted(dead["reason"].to_pylist())
    assert reasons == ["field_too_long", "unknown_product", "unknown_store"]
    assert result.dead_letter_events == 3 and result.events == 1
    stores = {key[2] for key in _published(tmp_path)}
    assert stores == {"S1", "ALL"}
    manifest = json.loads(Path(result.manifest).read_text())
    assert manifest["stores"] == 1
