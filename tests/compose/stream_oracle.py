"""The stream's expected windows, in plain Python (csv, decimal, datetime) from the raw files.

The rules are docs/stream.md's: sliding windows (1 h every 5 min) per store and for ALL,
events de-duplicated by (transaction_id, line_no), and lateness judged per store: an event is
late when it is older than its store's latest event time minus the watermark delay, as the
earlier micro-batches left it. Replay sends each run's rows in event-time order and a store's
events share a Kafka partition, so within one replay run no event falls behind its store's
clock; only the clock a previous run left can make an event late.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

CENT = Decimal("0.01")
UTC = dt.UTC
ALL = "ALL"
Key = tuple[dt.datetime, dt.datetime, str]
# A line without one of these is a dead letter (docs/kafka.md's required fields).
REQUIRED_TEXT = ("transaction_id", "store_id", "product_id", "payment_method")


@dataclass(frozen=True)
class Event:
    when: dt.datetime
    store: str
    receipt: str
    line_no: int
    quantity: int
    net: Decimal


def rows(raw: Path, days: list[str]) -> list[dict[str, str]]:
    """The rows of `transactions_<day>.csv` for each day (lines of the wrong width dropped)."""
    out: list[dict[str, str]] = []
    for day in days:
        with (raw / f"transactions_{day}.csv").open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            out.extend(dict(zip(header, v, strict=True)) for v in reader if len(v) == len(header))
    return out


def event(row: dict[str, str]) -> Event | None:
    """A valid sale or return line, else None (it goes to the dead letters or is not sent)."""
    try:
        when = dt.datetime.fromisoformat(row["timestamp"])
        quantity = int(row["quantity"])
        price = Decimal(row["unit_price"])
        pct = Decimal(row["discount_pct"] or "0")
        line_no = int(row["line_no"])
    except (ValueError, InvalidOperation, KeyError):
        return None
    if when.tzinfo is None or quantity == 0 or price < 0 or not (0 <= pct < 1) or line_no < 1:
        return None
    if any(not row[name].strip() for name in REQUIRED_TEXT):
        return None
    gross = (quantity * price).quantize(CENT, ROUND_HALF_UP)
    net = gross - (gross * pct).quantize(CENT, ROUND_HALF_UP)
    return Event(
        when.astimezone(UTC), row["store_id"], row["transaction_id"], line_no, quantity, net
    )


@dataclass
class StreamOracle:
    window: dt.timedelta = dt.timedelta(hours=1)
    slide: dt.timedelta = dt.timedelta(minutes=5)
    delay: dt.timedelta = dt.timedelta(minutes=10)
    clocks: dict[str, dt.datetime] = field(default_factory=dict)
    seen: set[tuple[str, int]] = field(default_factory=set)
    late: int = 0
    receipts: dict[Key, set[str]] = field(default_factory=lambda: defaultdict(set))
    units: dict[Key, int] = field(default_factory=lambda: defaultdict(int))
    net: dict[Key, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def replay(self, batch: list[dict[str, str]]) -> None:
        """One replay run's rows, processed after every earlier run's."""
        marks = {store: clock - self.delay for store, clock in self.clocks.items()}
        for row in batch:
            line = event(row)
            if line is None:
                continue
            mark = marks.get(line.store)
            if mark is not None and line.when < mark:
                self.late += 1
                continue
            if (line.receipt, line.line_no) in self.seen:
                continue
            self.seen.add((line.receipt, line.line_no))
            self.clocks[line.store] = max(line.when, self.clocks.get(line.store, line.when))
            for start, end in self._windows(line.when):
                for group in (line.store, ALL):
                    self.receipts[(start, end, group)].add(line.receipt)
                    self.units[(start, end, group)] += line.quantity
                    self.net[(start, end, group)] += line.net

    def _windows(self, when: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        epoch = int(when.timestamp())
        slide, window = int(self.slide.total_seconds()), int(self.window.total_seconds())
        start = epoch - epoch % slide
        out = []
        while start > epoch - window:
            begin = dt.datetime.fromtimestamp(start, UTC)
            out.append((begin, begin + self.window))
            start -= slide
        return out

    def windows(self) -> dict[Key, tuple[int, int, Decimal]]:
        """(transactions, units, net revenue) of every window that holds an event."""
        return {k: (len(v), self.units[k], self.net[k]) for k, v in self.receipts.items()}

    def latest_end(self) -> dt.datetime:
        """The dashboard's 'latest window': the first ALL window end after the newest start."""
        totals = [k for k in self.receipts if k[2] == ALL]
        newest_start = max(start for start, _, _ in totals)
        return min(end for _, end, _ in totals if end > newest_start)
