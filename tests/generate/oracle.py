"""An independent reading of raw CSV files for the generator's tests: the row rules and money
of tests/oracle.py (csv module and Decimal, no retailpipe code), and the economics figures."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tests.oracle import COLUMNS, Line, Reading, amounts, read_raw

__all__ = ["COLUMNS", "Economics", "Line", "Reading", "economics", "read_raw"]


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
                pct = Decimal(row["discount_pct"] or "0")
                net = amounts(quantity, Decimal(row["unit_price"]), pct)[2]
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
