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


@dataclass
class Economics:
    """Shares and rates the generator's economics targets are stated in."""

    revenue_by_sku: dict[str, Decimal]
    units_by_sku: dict[str, int]
    revenue_by_category: dict[str, Decimal]
    units_by_category: dict[str, int]
    lines: int
    receipts: int
    return_lines: int

    @property
    def revenue(self) -> Decimal:
        return sum(self.revenue_by_sku.values(), Decimal(0))

    def top_share(self, fraction: Decimal) -> Decimal:
        """Share of revenue made by the best `fraction` of the SKUs that sold."""
        ranked = sorted(self.revenue_by_sku.values(), reverse=True)
        count = int(len(ranked) * fraction)
        return sum(ranked[:count], Decimal(0)) / self.revenue


def economics(raw_dir: Path) -> Economics:
    """Net revenue and units per SKU and category, lines, receipts and return lines, summed
    with the csv module and Decimal straight from the raw files (clean files assumed)."""
    revenue_by_sku: dict[str, Decimal] = defaultdict(Decimal)
    units_by_sku: dict[str, int] = defaultdict(int)
    revenue_by_category: dict[str, Decimal] = defaultdict(Decimal)
    units_by_category: dict[str, int] = defaultdict(int)
    receipts: set[str] = set()
    lines = return_lines = 0
    for path in sorted(raw_dir.glob("transactions_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                quantity = int(row["quantity"])
                gross = (quantity * Decimal(row["unit_price"])).quantize(CENT, ROUND_HALF_UP)
                net = gross - (gross * Decimal(row["discount_pct"])).quantize(CENT, ROUND_HALF_UP)
                revenue_by_sku[row["product_id"]] += net
                units_by_sku[row["product_id"]] += quantity
                revenue_by_category[row["category"]] += net
                units_by_category[row["category"]] += quantity
                receipts.add(row["transaction_id"])
                lines += 1
                return_lines += quantity < 0
    return Economics(
        dict(revenue_by_sku),
        dict(units_by_sku),
        dict(revenue_by_category),
        dict(units_by_category),
        lines,
        len(receipts),
        return_lines,
    )
