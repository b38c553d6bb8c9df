"""Test helpers: raw CSV -> Kafka-style JSON events, and an independent window oracle.

Plain Python only (csv, json, decimal, datetime), the row rules of tests/oracle.py; nothing
from retailpipe.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from tests.oracle import parse

UTC = dt.UTC
Key = tuple[dt.datetime, dt.datetime, str]


def event_id(transaction_id: str, line_no: str) -> str:
    return hashlib.sha256(f"{transaction_id}|{line_no}".encode()).hexdigest()[:32]


def _number(text: str) -> object:
    """Integers travel as JSON numbers; anything else stays text (so bad numbers survive)."""
    try:
        return int(text)
    except ValueError:
        return text


def row_event(row: dict[str, str]) -> dict[str, object]:
    """One CSV row as the JSON event docs/kafka.md describes (money and rates as strings)."""
    event: dict[str, object] = dict(row)
    event["line_no"] = _number(row["line_no"])
    event["quantity"] = _number(row["quantity"])
    event["event_id"] = event_id(row["transaction_id"], row["line_no"])
    event["event_time"] = row["timestamp"]
    event["schema_version"] = 1
    return event


def csv_messages(raw_dir: Path) -> list[tuple[bytes, bytes]]:
    """(key, value) per CSV data line, in file order; a malformed line is sent as its text."""
    messages: list[tuple[bytes, bytes]] = []
    for path in sorted(raw_dir.glob("transactions_*.csv")):
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            for values in reader:
                if len(values) != len(header):
                    messages.append((b"?", ",".join(values).encode()))
                    continue
                row = dict(zip(header, values, strict=True))
                messages.append((row["store_id"].encode(), json.dumps(row_event(row)).encode()))
    return messages


def _valid_line(row: dict[str, str]) -> tuple[dt.datetime, str, str, int, Decimal] | None:
    """(UTC time, store, receipt, quantity, net) for a valid row, else None (the rules of
    tests/oracle.py; no dimension files here: the generator's ids are all known)."""
    line = parse(row)
    if isinstance(line, str):
        return None
    return line.ts.astimezone(UTC), line.store_id, line.transaction_id, line.quantity, line.net


def windows_of(
    when: dt.datetime, window_s: int, slide_s: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every [start, start + window) with start a multiple of the slide that holds `when`."""
    epoch = int(when.timestamp())
    start = epoch - epoch % slide_s
    out = []
    while start > epoch - window_s:
        begin = dt.datetime.fromtimestamp(start, UTC)
        out.append((begin, begin + dt.timedelta(seconds=window_s)))
        start -= slide_s
    return out


def oracle_from_rows(
    rows: list[dict[str, str]], window_s: int = 3600, slide_s: int = 300
) -> dict[Key, tuple[int, int, Decimal]]:
    """(transactions, units, net revenue) per (window, store) and (window, ALL)."""
    seen: set[tuple[str, str]] = set()
    receipts: dict[Key, set[str]] = defaultdict(set)
    units: dict[Key, int] = defaultdict(int)
    revenue: dict[Key, Decimal] = defaultdict(Decimal)
    for row in rows:
        line = _valid_line(row)
        key = (row.get("transaction_id", ""), row.get("line_no", ""))
        if line is None or key in seen:
            continue
        seen.add(key)
        when, store, receipt, quantity, net = line
        for start, end in windows_of(when, window_s, slide_s):
            for group in (store, "ALL"):
                receipts[(start, end, group)].add(receipt)
                units[(start, end, group)] += quantity
                revenue[(start, end, group)] += net
    return {k: (len(receipts[k]), units[k], revenue[k]) for k in receipts}


def csv_rows(raw_dir: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(raw_dir.glob("transactions_*.csv")):
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            rows.extend(dict(zip(header, v, strict=True)) for v in reader if len(v) == len(header))
    return rows


def read_windows(folder: Path) -> list[tuple[Key, tuple[int, int, Decimal]]]:
    """Every row a plain pyarrow reader sees in `stream/` (duplicates kept, to be checked)."""
    import pyarrow.dataset as ds

    if not folder.is_dir():
        return []
    table = ds.dataset(str(folder), format="parquet").to_table()
    return [
        (
            (r["window_start"], r["window_end"], r["store_id"]),
            (r["transactions"], r["units"], r["net_revenue"]),
        )
        for r in table.to_pylist()
    ]


def read_late(folder: Path) -> dict[Key, int]:
    import pyarrow.dataset as ds

    if not folder.is_dir():
        return {}
    rows = ds.dataset(str(folder), format="parquet").to_table().to_pylist()
    return {(r["window_start"], r["window_end"], r["store_id"]): r["late_events"] for r in rows}


def json_event(
    store: str, when: str, receipt: str, quantity: int = 1, price: str = "2.50"
) -> bytes:
    """A hand-written one-line receipt as the JSON event `replay` would send."""
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


def duplicate_rows(rows: list[dict[str, str]]) -> int:
    """Valid rows whose (transaction_id, line_no) came before: what de-duplication drops."""
    seen: set[tuple[str, str]] = set()
    repeats = 0
    for row in rows:
        if _valid_line(row) is None:
            continue
        key = (row["transaction_id"], row["line_no"])
        repeats += key in seen
        seen.add(key)
    return repeats


def replay_batches(
    messages: dict[tuple[int, int], bytes],
    ends: list[dict[int, int]],
    delay_s: int,
    per_store: bool = True,
    window_s: int = 3600,
    slide_s: int = 300,
) -> tuple[dict[Key, tuple[int, int, Decimal]], Counter[Key]]:
    """Windows and late counts of the stream's rules, batch by batch, from the topic's
    messages and Spark's offsets log (which says what each batch read).

    An event is late when it is older than the watermark the earlier batches left: the
    latest on-time event time seen for its store (or, with per_store=False, for any store:
    one global watermark) minus the delay. Late events are counted per window (store and
    ALL); the rest, de-duplicated by event id, make the windows."""
    latest: dict[str, dt.datetime] = {}
    counted: list[dict[str, str]] = []
    late: Counter[Key] = Counter()
    start = {p: 0 for p in ends[0]} if ends else {}
    for end in ends:
        batch = [messages[(p, o)] for p in sorted(end) for o in range(start.get(p, 0), end[p])]
        start = end
        seen_now: dict[str, dt.datetime] = {}
        for value in batch:
            try:
                event = json.loads(value)
                row = {k: "" if v is None else str(v) for k, v in event.items()}
            except (ValueError, AttributeError):
                continue
            line = _valid_line(row)
            if line is None:
                continue
            when, store = line[0], line[1]
            clock = store if per_store else ""
            mark = latest.get(clock)
            if mark is not None and when < mark - dt.timedelta(seconds=delay_s):
                for begin, finish in windows_of(when, window_s, slide_s):
                    late[(begin, finish, store)] += 1
                    late[(begin, finish, "ALL")] += 1
                continue
            counted.append(row)
            seen_now[clock] = max(when, seen_now.get(clock, when))
        for clock, when in seen_now.items():
            latest[clock] = max(when, latest.get(clock, when))
    return oracle_from_rows(counted, window_s, slide_s), late
