"""Events built from raw rows: every field equals the CSV text; ids are stable and unique."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from retailpipe.replay.events import encode, event, event_id
from retailpipe.schemas import EVENT_SCHEMA

ROW = ("T1-S001-000001", "2", "2026-01-01T08:01:40-05:00", "S001", "P00007", "toys", "-3",
       "18.09", "0.15", "card", "")
WHEN = dt.datetime.fromisoformat(ROW[2])


def test_event_carries_the_row_with_json_types() -> None:
    value = json.loads(encode(event(ROW, WHEN, None)))
    assert set(value) == {f.name for f in EVENT_SCHEMA}
    assert value["transaction_id"] == "T1-S001-000001"
    assert value["line_no"] == 2 and value["quantity"] == -3
    assert value["unit_price"] == "18.09" and value["discount_pct"] == "0.15"
    assert value["timestamp"] == value["event_time"] == "2026-01-01T08:01:40-05:00"
    assert value["customer_id"] is None
    assert value["schema_version"] == 1
    expected = hashlib.blake2b(b"T1-S001-000001\x1f2", digest_size=16).hexdigest()
    assert value["event_id"] == expected


def test_shift_moves_event_time_and_keeps_the_offset() -> None:
    value = json.loads(encode(event(ROW, WHEN, dt.timedelta(days=400, seconds=5))))
    assert value["event_time"] == "2027-02-05T08:01:45-05:00"
    assert value["timestamp"] == ROW[2]


def test_event_ids_differ_by_key_and_by_loop_generation() -> None:
    ids = {event_id(f"T{t}", line) for t in range(200) for line in range(1, 6)}
    assert len(ids) == 1000
    assert event_id("T1", 1) == event_id("T1", 1)
    assert event_id("T1", 1, generation=1) != event_id("T1", 1)
