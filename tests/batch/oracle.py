"""An independent oracle: plain `csv` + `decimal` over the raw files, per docs/data-contract.md.

It shares no code with retailpipe.batch or retailpipe.transforms, so a bug there cannot
hide in both places.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

CENT = Decimal("0.01")
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
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


@dataclass
class Line:
    transaction_id: str
    line_no: int
    sale_date: str
    hour: int
    store_id: str
    product_id: str
    category: str
    payment_method: str
    quantity: int
    gross: Decimal
    discount: Decimal
    net: Decimal


@dataclass
class Truth:
    lines: list[Line] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # file, line, reason
    duplicates: int = 0
    rows_read: int = 0


def _money(text: str, places: int) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value.as_tuple().exponent < -places:  # type: ignore[operator]
        return None
    return value


def _reason(row: list[str], stores: set[str], products: set[str]) -> str | None:
    if len(row) != len(COLUMNS):
        return "malformed_row"
    rec = dict(zip(COLUMNS, (v.strip() for v in row), strict=True))
    required = (
        "transaction_id",
        "line_no",
        "timestamp",
        "store_id",
        "product_id",
        "quantity",
        "unit_price",
        "payment_method",
    )
    if any(not rec[c] for c in required):
        return "missing_field"
    try:
        if not ISO.match(rec["timestamp"]):
            raise ValueError
        dt.datetime.fromisoformat(rec["timestamp"])
    except ValueError:
        return "bad_timestamp"
    price = _money(rec["unit_price"], 2)
    discount = _money(rec["discount_pct"] or "0", 4)
    if not re.fullmatch(r"-?\d+", rec["quantity"]) or price is None or discount is None:
        return "bad_number"
    if price < 0:
        return "negative_price"
    if int(rec["quantity"]) == 0:
        return "zero_quantity"
    if not Decimal(0) <= discount < 1:
        return "discount_out_of_range"
    if rec["store_id"] not in stores:
        return "unknown_store"
    if rec["product_id"] not in products:
        return "unknown_product"
    return None


def _ids(path: Path) -> set[str]:
    with path.open(newline="") as handle:
        return {row[0] for row in list(csv.reader(handle))[1:]}


def read_truth(raw_dir: Path) -> Truth:
    """Every valid, de-duplicated line and every rejection, from the raw files alone."""
    stores, products = _ids(raw_dir / "stores.csv"), _ids(raw_dir / "products.csv")
    truth = Truth()
    seen: set[tuple[str, int]] = set()
    for path in sorted(raw_dir.glob("transactions_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            for row in reader:
                line_number = reader.line_num
                truth.rows_read += 1
                reason = _reason(row, stores, products)
                if reason:
                    truth.reasons[reason] += 1
                    truth.rejected.append((path.name, line_number, reason))
                    continue
                rec = dict(zip(COLUMNS, (v.strip() for v in row), strict=True))
                key = (rec["transaction_id"], int(rec["line_no"]))
                if key in seen:
                    truth.duplicates += 1
                    continue
                seen.add(key)
                quantity = int(rec["quantity"])
                gross = (quantity * Decimal(rec["unit_price"])).quantize(CENT, ROUND_HALF_UP)
                pct = Decimal(rec["discount_pct"] or "0")
                discount = (gross * pct).quantize(CENT, ROUND_HALF_UP)
                truth.lines.append(
                    Line(
                        key[0],
                        key[1],
                        rec["timestamp"][:10],
                        int(rec["timestamp"][11:13]),
                        rec["store_id"],
                        rec["product_id"],
                        rec["category"].lower(),
                        rec["payment_method"].lower(),
                        quantity,
                        gross,
                        discount,
                        gross - discount,
                    )
                )
    return truth


def _daily(lines: list[Line], key) -> dict[tuple, dict[str, object]]:
    groups: dict[tuple, list[Line]] = defaultdict(list)
    for line in lines:
        groups[key(line)].append(line)
    out = {}
    for k, members in groups.items():
        receipts = len({m.transaction_id for m in members})
        net = sum((m.net for m in members), Decimal("0"))
        out[k] = {
            "transactions": receipts,
            "lines": len(members),
            "units": sum(m.quantity for m in members),
            "gross_revenue": sum((m.gross for m in members), Decimal("0")),
            "discount_amount": sum((m.discount for m in members), Decimal("0")),
            "net_revenue": net,
            "return_amount": sum((m.net for m in members if m.quantity < 0), Decimal("0")),
            "avg_basket": (net / receipts).quantize(CENT, ROUND_HALF_UP),
        }
    return out


def expected_aggregates(truth: Truth) -> dict[str, dict[tuple, dict[str, object]]]:
    """Aggregate name -> key tuple -> measures, as docs/data-contract.md defines them."""
    lines = truth.lines
    product = {
        k: {m: v[m] for m in ("lines", "units", "net_revenue")}
        for k, v in _daily(lines, lambda x: (x.sale_date, x.product_id)).items()
    }
    payment = {
        k: {m: v[m] for m in ("transactions", "net_revenue")}
        for k, v in _daily(lines, lambda x: (x.sale_date, x.payment_method)).items()
    }
    hourly = {
        k: {m: v[m] for m in ("transactions", "units", "net_revenue")}
        for k, v in _daily(lines, lambda x: (x.sale_date, x.hour)).items()
    }
    return {
        "daily_sales": _daily(lines, lambda x: (x.sale_date,)),
        "daily_store_sales": _daily(lines, lambda x: (x.sale_date, x.store_id)),
        "daily_category_sales": _daily(lines, lambda x: (x.sale_date, x.category)),
        "daily_product_sales": product,
        "daily_payment_sales": payment,
        "hourly_sales": hourly,
    }
