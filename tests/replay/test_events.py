"""Events built from raw rows: every field equals the CSV text; ids are stable and unique."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest

from retailpipe.replay.events import encode, event, event_id, payloads
from retailpipe.replay.source import read_source
from retailpipe.schemas import EVENT_SCHEMA, RAW_COLUMNS

ROW = (
    "T1-S001-000001",
    "2",
    "2026-01-01T08:01:40-05:00",
    "S001",
    "P00007",
    "toys",
    "-3",
    "18.09",
    "0.15",
    "card",
    "",
)
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


def _oracle_event(values: dict[str, str], event_time: str, generation: int = 0) -> dict:
    """The event docs/kafka.md describes, built by hand from the CSV text."""
    key = f"{values['transaction_id']}\x1f{int(values['line_no'])}"
    key += f"\x1f{generation}" if generation else ""
    return {
        "event_id": hashlib.blake2b(key.encode(), digest_size=16).hexdigest(),
        "event_time": event_time,
        "schema_version": 1,
        "transaction_id": values["transaction_id"] or None,
        "line_no": int(values["line_no"]),
        "timestamp": values["timestamp"],
        "store_id": values["store_id"] or None,
        "product_id": values["product_id"] or None,
        "category": values["category"] or None,
        "quantity": int(values["quantity"]),
        "unit_price": values["unit_price"] or None,
        "discount_pct": values["discount_pct"] or None,
        "payment_method": values["payment_method"] or None,
        "customer_id": values["customer_id"] or None,
    }


TEXTS = [
    "plain",
    "",
    'say "hi"',
    "back\\slash",
    "tab\there",
    "bell\x07",
    "caf\u00e9 \u2028",
    "\u00fcber/<>",
]


def _write_rows(path: Path, quoted: bool) -> list[dict[str, str]]:
    """A CSV whose text fields hold characters JSON must escape, and others. Unquoted, it
    takes the reader's columnar path; quoted (with '"' in values), the csv module's."""
    rows = []
    texts = TEXTS if quoted else [text for text in TEXTS if '"' not in text]
    for i in range(240):
        text = texts[i % len(texts)]
        stamp = [
            "2026-01-01T08:01:40-05:00",
            "2026-03-01T10:00:00.250000+05:30",
            "2026-01-02T00:00:00-00:00",
            "2026-01-01T23:00:00+05:30:15",
        ][i % 4]
        rows.append(
            {
                "transaction_id": f"T{i // 3}" if i % 11 else "",
                "line_no": f"{i % 3 + 1:03d}",
                "timestamp": stamp,
                "store_id": f"S{i % 4}" if i % 13 else text,
                "product_id": "P1",
                "category": text,
                "quantity": str(i % 5 - 2),
                "unit_price": f"{i}.5" if i % 7 else "",
                "discount_pct": "0.10",
                "payment_method": "card",
                "customer_id": text if i % 2 else "",
            }
        )
    with path.open("w", newline="", encoding="utf-8") as handle:
        quoting = csv.QUOTE_ALL if quoted else csv.QUOTE_NONE
        writer = csv.DictWriter(handle, RAW_COLUMNS, quoting=quoting)
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.mark.parametrize("quoted", [False, True])
def test_batch_payloads_equal_the_spec_event(tmp_path: Path, quoted: bool) -> None:
    rows = _write_rows(tmp_path / "transactions_2026-01-01.csv", quoted)
    source = read_source([tmp_path / "transactions_2026-01-01.csv"])
    assert len(source) == len(rows)
    table = pa.concat_tables(source.batches())
    for generation, shift in ((0, None), (3, 86_400 * 400 + 5)):
        values = payloads(table, generation, shift)
        for row, payload in zip(source.rows, values, strict=True):
            csv_row = rows[row.line_number - 2]
            when = dt.datetime.fromisoformat(csv_row["timestamp"])
            if shift is None:
                # The CSV text when already ISO 8601 with an offset, else isoformat().
                text = csv_row["timestamp"]
                event_time = text if len(text) == 25 else when.isoformat()
            else:
                event_time = (when + dt.timedelta(seconds=shift)).isoformat()
            assert json.loads(payload) == _oracle_event(csv_row, event_time, generation)
    # Byte for byte what the one-event encoder writes (orjson), escapes included.
    assert payloads(table) == [
        encode(event(r.fields, r.event_time, None, 0, r.iso_time)) for r in source.rows
    ]


def test_integers_beyond_64_bits_still_encode() -> None:
    value = json.loads(encode(event(("T1", "1" * 25, *ROW[2:]), WHEN, None)))
    assert value["line_no"] == int("1" * 25)
