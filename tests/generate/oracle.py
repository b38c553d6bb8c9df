"""An independent reading of raw CSV files with the csv module and Decimal (no retailpipe code)."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

COLUMNS = [
    "transaction_id",
    "line_no",
    "timestamp",
    "store_id",
    "product_id",
    "category",
    "quantity",
    "unit_price",
    "discount_pct",
    "payment_method",
    "customer_id",
]
CENT = Decimal("0.01")


@dataclass
class Line:
    transaction_id: str
    line_no: int
    ts: dt.datetime
    store_id: str
    product_id: str
    category: str
    quantity: int
    unit_price: Decimal
    discount_pct: Decimal
    payment_method: str
    customer_id: str
    gross: Decimal
    discount: Decimal
    net: Decimal

    @property
    def sale_date(self) -> str:
        return self.ts.date().isoformat()


@dataclass
class Reading:
    lines: list[Line] = field(default_factory=list)
    invalid: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    duplicates: int = 0
    rows: int = 0


def parse(fields: list[str]) -> Line | str:
    """A valid line, or the reason it is not."""
    if len(fields) != len(COLUMNS):
        return "malformed_row"
    row = dict(zip(COLUMNS, fields, strict=True))
    try:
        ts = dt.datetime.fromisoformat(row["timestamp"])
    except ValueError:
        return "bad_timestamp"
    if ts.tzinfo is None:
        return "bad_timestamp"
    try:
        quantity = int(row["quantity"])
        price = Decimal(row["unit_price"])
        pct = Decimal(row["discount_pct"])
        line_no = int(row["line_no"])
    except (ValueError, InvalidOperation):
        return "bad_number"
    if price < 0:
        return "negative_price"
    if quantity == 0:
        return "zero_quantity"
    gross = (quantity * price).quantize(CENT, ROUND_HALF_UP)
    discount = (gross * pct).quantize(CENT, ROUND_HALF_UP)
    return Line(
        row["transaction_id"],
        line_no,
        ts,
        row["store_id"],
        row["product_id"],
        row["category"],
        quantity,
        price,
        pct,
        row["payment_method"],
        row["customer_id"],
        gross,
        discount,
        gross - discount,
    )


def read_raw(raw_dir: Path) -> Reading:
    """Every valid, de-duplicated line of every raw file, and the rest counted by reason."""
    reading = Reading()
    seen: set[tuple[str, int]] = set()
    for path in sorted(raw_dir.glob("transactions_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            assert next(rows) == COLUMNS
            for fields in rows:
                reading.rows += 1
                parsed = parse(fields)
                if isinstance(parsed, str):
                    reading.invalid[parsed] += 1
                    continue
                key = (parsed.transaction_id, parsed.line_no)
                if key in seen:
                    reading.duplicates += 1
                    continue
                seen.add(key)
                reading.lines.append(parsed)
    return reading
