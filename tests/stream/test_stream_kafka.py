"""`retailpipe stream` against a real broker and real Spark, compared with a CSV oracle."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from retailpipe.errors import ConfigError
from retailpipe.stream.run import run_stream
from tests import processes
from tests.stream.kafka_helpers import (
    cli,
    cli_env,
    new_topic,
    produce,
    replay_generated_day,
    stream_settings,
)
from tests.stream.oracle import (
    csv_rows,
    duplicate_rows,
    json_event,
    oracle_from_rows,
    read_late,
    read_windows,
    windows_of,
)

_event = json_event

pytestmark = pytest.mark.integration


def _windows_equal(folder: Path, expected: dict) -> None:
    seen = read_windows(folder)
    assert max(Counter(k for k, _ in seen).values()) == 1, "a window appears twice"
    assert dict(seen) == expected


def test_replayed_day_matches_the_oracle_to_the_cent(spark, kafka_broker, tmp_path) -> None:
    # Small batches: buckets are written, read back and added to while dead letters share
    # the batches (and the Arrow batches the stateful step receives).
    settings = stream_settings(
        tmp_path, kafka_broker, new_topic("oracle"), **{"stream.max_offsets_per_trigger": 300}
    )
    replay_generated_day(settings, tmp_path, rows_per_day=1000, products=80)

    result = run_stream(spark, settings, available_now=True)

    _windows_equal(tmp_path / "stream", oracle_from_rows(csv_rows(tmp_path / "raw")))
    manifest = json.loads(Path(result.manifest).read_text())
    assert manifest["status"] == "stopped" and manifest["batches"]
    assert {"batch_id", "duration_ms", "stores", "windows", "collect_ms"} <= set(
        manifest["batches"][-1]
    )
    rows = csv_rows(tmp_path / "raw")
    assert manifest["duplicates"] == duplicate_rows(rows) > 0
    assert manifest["stores"] == 4 and manifest["watermark"] <= manifest["max_watermark"]


def test_malformed_messages_go_to_the_dead_letter(spark, kafka_broker, tmp_path) -> None:
    settings = stream_settings(tmp_path, kafka_broker, new_topic("dead"))
    good = [_event("S1", "2026-01-01T12:00:00+00:00", f"R{i}") for i in range(6)]
    bad = {
        b"not json at all": "malformed_json",
        json.dumps({"event_id": "x1", "store_id": "S1"}).encode(): "missing_field",
        good[0].replace(b'"quantity": 1', b'"quantity": "two"'): "bad_number",
        good[1].replace(b'"unit_price": "2.50"', b'"unit_price": "2.5.0"'): "bad_number",
        good[2].replace(
            b'"event_time": "2026-01-01T12:00:00+00:00"', b'"event_time": "yesterday"'
        ): "bad_timestamp",
        # a line amount that would not fit DECIMAL(12,2): dead-lettered, never a failed query
        good[3].replace(b'"unit_price": "2.50"', b'"unit_price": "99999999.99"'): "bad_number",
        good[4].replace(b'"quantity": 1', b'"quantity": 200000'): "bad_number",
        good[5].replace(b'"store_id": "S1"', b'"store_id": "ALL"'): "unknown_store",
    }
    assert all(value not in good for value in bad)
    messages = [
        *[(b"S1", g) for g in good[:3]],
        *[(b"S1", v) for v in bad],
        (b"S1", good[0]),
        *[(b"S1", g) for g in good[3:]],
    ]
    produce(settings, messages)

    run_stream(spark, settings, available_now=True)

    dead = ds.dataset(str(tmp_path / "stream_dead_letter"), format="parquet").to_table()
    assert sorted(
        zip(dead["value"].to_pylist(), dead["reason"].to_pylist(), strict=True)
    ) == sorted((v.decode(), r) for v, r in bad.items())
    assert set(dead.column_names) >= {"topic", "partition", "offset", "reason", "value"}
    noon = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    window = (noon, noon + dt.timedelta(hours=1))
    values = dict(read_windows(tmp_path / "stream"))
    # six valid receipts, one sent twice: counted once
    assert values[(*window, "ALL")] == (6, 6, Decimal("15.00"))


def test_restart_resumes_and_counts_late_events(spark, kafka_broker, tmp_path) -> None:
    settings = stream_settings(
        tmp_path, kafka_broker, new_topic("late"), **{"stream.watermark": "10 minutes"}
    )
    produce(
        settings,
        [
            (b"S1", _event("S1", "2026-01-01T12:00:00+00:00", "A")),
            (b"S1", _event("S1", "2026-01-01T12:30:00+00:00", "B")),
        ],
    )
    run_stream(spark, settings, available_now=True)  # watermark -> 12:20
    produce(
        settings,
        [
            (b"S1", _event("S1", "2026-01-01T12:25:00+00:00", "C")),
            (b"S1", _event("S1", "2026-01-01T12:05:00+00:00", "D")),
        ],
    )

    result = run_stream(spark, settings, available_now=True)

    rows = [
        {
            "transaction_id": r,
            "line_no": "1",
            "timestamp": f"2026-01-01T{t}+00:00",
            "store_id": "S1",
            "product_id": "P1",
            "payment_method": "card",
            "quantity": "1",
            "unit_price": "2.50",
            "discount_pct": "0.00",
        }
        for r, t in (("A", "12:00:00"), ("B", "12:30:00"), ("C", "12:25:00"))
    ]
    _windows_equal(tmp_path / "stream", oracle_from_rows(rows))
    late_when = dt.datetime(2026, 1, 1, 12, 5, tzinfo=dt.UTC)
    expected = {(s, e, g): 1 for s, e in windows_of(late_when, 3600, 300) for g in ("S1", "ALL")}
    assert read_late(tmp_path / "stream_late") == expected
    assert result.late_events == 1


def test_restart_with_another_topic_is_refused_unless_reset(spark, kafka_broker, tmp_path) -> None:
    settings = stream_settings(tmp_path, kafka_broker, new_topic("first"))
    produce(settings, [(b"S1", _event("S1", "2026-01-01T12:00:00+00:00", "A"))])
    run_stream(spark, settings, available_now=True)
    other = stream_settings(tmp_path, kafka_broker, new_topic("second"))
    with pytest.raises(ConfigError, match="topic"):
        run_stream(spark, other, available_now=True)
    other_grouping = stream_settings(
        tmp_path, kafka_broker, settings.kafka.topic, **{"stream.slide": "10 minutes"}
    )
    with pytest.raises(ConfigError, match="slide_s"):
        run_stream(spark, other_grouping, available_now=True)
    # --reset starts over: the other topic's windows only, nothing left of the first run.
    dead = tmp_path / "stream_dead_letter"
    dead.mkdir(exist_ok=True)
    (dead / "left-over.parquet").write_bytes(b"from the first run")
    produce(other, [(b"S2", _event("S2", "2026-01-02T09:00:00+00:00", "B", quantity=3))])
    run_stream(spark, other, available_now=True, reset=True)
    rows = [
        {
            "transaction_id": "B",
            "line_no": "1",
            "timestamp": "2026-01-02T09:00:00+00:00",
            "store_id": "S2",
            "product_id": "P1",
            "payment_method": "card",
            "quantity": "3",
            "unit_price": "2.50",
            "discount_pct": "0.00",
        }
    ]
    _windows_equal(tmp_path / "stream", oracle_from_rows(rows))
    assert not (dead / "left-over.parquet").exists()


def test_workers_without_the_packages_fail_in_one_line(kafka_broker, tmp_path) -> None:
    """A Python for Spark's workers that lacks pandas and numpy (a bare venv), as on a
    cluster whose workers were not set up: one line naming the module, exit 3."""
    import subprocess
    import sys
    import venv

    settings = stream_settings(tmp_path, kafka_broker, new_topic("bare"))
    produce(settings, [(b"S1", _event("S1", "2026-01-01T12:00:00+00:00", "A"))])
    bare = tmp_path / "bare-python"
    venv.create(bare, with_pip=False)
    env = {**cli_env(settings), "PYSPARK_PYTHON": str(bare / "bin" / "python")}
    assert subprocess.run([env["PYSPARK_PYTHON"], "-c", "import numpy"]).returncode != 0

    done = processes.run([*cli(), "stream", "--available-now"], env=env, timeout=600)

    assert done.returncode == 3, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: Spark's Python workers cannot import numpy. Fix: run the workers with "
        "retailpipe's Python environment (PYSPARK_PYTHON) or install retailpipe there"
    ], done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "\tat " not in done.stderr
    assert sys.executable != env["PYSPARK_PYTHON"]
