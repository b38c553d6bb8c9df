"""An independent reading of the raw files for reconcile's tests: plain csv and decimal,
each row judged by the contract's rules in tests/oracle.py (not by the generator's list of
the defects it meant to inject); nothing from retailpipe.

It replays what the two paths do with the rows: the batch keeps the valid rows once per
(transaction_id, line_no); the stream, fed one file per micro-batch in file order, counts
a valid row unless it is older than its store's watermark as the earlier files left it
(latest on-time event time minus 10 minutes), and dead-letters the rows replay sends but
the checks refuse (negative price, zero quantity).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from tests.oracle import amounts, ids, parse_fields

HOUR = dt.timedelta(hours=1)
DELAY = dt.timedelta(minutes=10)
SENT_BUT_REFUSED = {"negative_price", "zero_quantity"}

Key = tuple[str, dt.datetime]


def hour(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def net(quantity: str, price: str, pct: str) -> Decimal:
    return amounts(int(quantity), Decimal(price), Decimal(pct or "0"))[2]


@dataclass
class Tally:
    receipts: set[str] = field(default_factory=set)
    units: int = 0
    net: Decimal = Decimal("0.00")

    def add(self, row: list[str]) -> None:
        self.receipts.add(row[0])
        self.units += int(row[6])
        self.net += net(row[6], row[7], row[8])

    def figures(self) -> tuple[int, int, Decimal]:
        return len(self.receipts), self.units, self.net


@dataclass
class Truth:
    batch: dict[Key, Tally] = field(default_factory=lambda: defaultdict(Tally))
    stream: dict[Key, Tally] = field(default_factory=lambda: defaultdict(Tally))
    late: Counter[Key] = field(default_factory=Counter)
    dead_letter: Counter[Key] = field(default_factory=Counter)
    quarantined: Counter[Key] = field(default_factory=Counter)
    marks: dict[str, dt.datetime] = field(default_factory=dict)
    first_counted: dt.datetime | None = None

    def compared(self) -> list[Key]:
        """Store-hours both paths cover, as reconcile's docs define them."""
        batch_hours = [key[1] for key in self.batch]
        first, last = min(batch_hours), max(batch_hours)
        assert self.first_counted is not None
        stream_first = self.first_counted.replace(minute=0, second=0, microsecond=0)
        keys = (
            self.batch.keys()
            | self.stream.keys()
            | self.late.keys()
            | self.dead_letter.keys()
            | self.quarantined.keys()
        )
        return sorted(
            (store, start)
            for store, start in keys
            if first <= start <= last
            and start >= stream_first
            and start + HOUR <= self.marks.get(store, min(self.marks.values()))
        )

    def differing(self) -> set[Key]:
        return {
            key
            for key in self.compared()
            if _figures(self.batch, key) != _figures(self.stream, key)
        }


def _figures(tallies: dict[Key, Tally], key: Key) -> tuple[int, int, Decimal]:
    return tallies[key].figures() if key in tallies else (0, 0, Decimal("0.00"))


def read(root: Path) -> Truth:
    raw = root / "raw"
    stores, products = ids(raw / "stores.csv"), ids(raw / "products.csv")
    truth = Truth()
    kept: set[tuple[str, str]] = set()
    for path in sorted(raw.glob("transactions_*.csv")):
        header, rows = _rows(path)
        batch_of_file: list[tuple[dt.datetime, list[str]]] = []
        for row in rows:
            kind = parse_fields(row, header, stores, products)
            if isinstance(kind, str):
                _set_aside(truth, row, kind)
                continue
            moment = dt.datetime.fromisoformat(row[2]).astimezone(dt.UTC)
            batch_of_file.append((moment, row))
            if (row[0], row[1]) not in kept:
                kept.add((row[0], row[1]))
                truth.batch[(row[3], hour(row[2]))].add(row)  # type: ignore[index]
        _stream_batch(truth, batch_of_file)
    return truth


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        return next(reader), [row for row in reader if row]


def _set_aside(truth: Truth, row: list[str], kind: str) -> None:
    placed = hour(row[2]) if len(row) > 3 and row[3].strip() else None
    if placed is not None:
        truth.quarantined[(row[3].strip(), placed)] += 1
    if kind in SENT_BUT_REFUSED:
        truth.dead_letter[(row[3], hour(row[2]))] += 1  # type: ignore[index]


def _stream_batch(truth: Truth, rows: list[tuple[dt.datetime, list[str]]]) -> None:
    """One micro-batch: lateness against the watermarks the earlier batches left."""
    seen: set[tuple[str, str]] = set()
    newest: dict[str, dt.datetime] = {}
    for moment, row in rows:
        store = row[3]
        mark = truth.marks.get(store)
        if mark is not None and moment < mark:
            truth.late[(store, hour(row[2]))] += 1  # type: ignore[index]
            continue
        newest[store] = max(newest.get(store, moment), moment)
        if (row[0], row[1]) in seen:
            continue
        seen.add((row[0], row[1]))
        truth.stream[(store, hour(row[2]))].add(row)  # type: ignore[index]
        if truth.first_counted is None or moment < truth.first_counted:
            truth.first_counted = moment
    for store, moment in newest.items():
        previous = truth.marks.get(store)
        mark = moment - DELAY
        truth.marks[store] = mark if previous is None else max(previous, mark)
