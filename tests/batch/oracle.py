"""The batch oracle: the curated aggregates, from tests/oracle.py's reading of the raw files
(plain `csv` + `decimal`, per docs/data-contract.md).

It shares no code with retailpipe.batch or retailpipe.transforms, so a bug there cannot
hide in both places.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from tests.oracle import CENT, read_raw

# The key columns of the aggregate tables (docs/data-contract.md); the rest are measures.
KEY_COLUMNS = ("sale_date", "store_id", "category", "product_id", "payment_method", "hour")


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
    discount_pct: Decimal = Decimal(0)


@dataclass
class Truth:
    lines: list[Line] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # file, line, reason
    duplicates: int = 0
    rows_read: int = 0


def read_truth(raw_dir: Path) -> Truth:
    """Every valid, de-duplicated line and every rejection, from the raw files alone; labels
    as batch stores them (lower case)."""
    reading = read_raw(raw_dir)
    lines = [
        Line(
            x.transaction_id,
            x.line_no,
            x.sale_date,
            x.hour,
            x.store_id,
            x.product_id,
            x.category.lower(),
            x.payment_method.lower(),
            x.quantity,
            x.gross,
            x.discount,
            x.net,
            x.discount_pct,
        )
        for x in reading.lines
    ]
    return Truth(lines, reading.reasons, reading.rejected, reading.duplicates, reading.rows)


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
        **_cube(lines),
    }


def _cube(lines: list[Line]) -> dict[str, dict[tuple, dict[str, object]]]:
    """The dashboards' cube (sale_date, store_id, category), its breakdowns and the
    receipts with lines on more than one sale date or store."""
    cube = {}
    for k, v in _daily(lines, lambda x: (x.sale_date, x.store_id, x.category)).items():
        members = [x for x in lines if (x.sale_date, x.store_id, x.category) == k]
        promo = sum((x.net for x in members if x.discount_pct > 0), Decimal("0"))
        cube[k] = {**{m: v[m] for m in v if m != "avg_basket"}, "promo_revenue": promo}

    def breakdown(key) -> dict[tuple, dict[str, object]]:
        return {
            k: {m: v[m] for m in ("lines", "units", "net_revenue")}
            for k, v in _daily(
                lines, lambda x: (x.sale_date, x.store_id, x.category, key(x))
            ).items()
        }

    places: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for x in lines:
        places[x.transaction_id].add((x.sale_date, x.store_id))
    split = {
        (x.sale_date, x.transaction_id, x.store_id, x.category): {}
        for x in lines
        if len(places[x.transaction_id]) > 1
    }
    return {
        "daily_store_category_sales": cube,
        "daily_store_product_sales": breakdown(lambda x: x.product_id),
        "daily_store_payment_sales": breakdown(lambda x: x.payment_method),
        "hourly_store_sales": breakdown(lambda x: x.hour),
        "split_receipts": split,
    }


def keyed(rows: list[dict[str, Any]]) -> dict[tuple, dict[str, object]]:
    """Rows of an aggregate table as read back (pyarrow's `to_pylist()`), in the oracle's
    shape: key tuple (sale_date as text) -> measures."""
    out = {}
    for row in rows:
        keys = [c for c in row if c in (*KEY_COLUMNS, "transaction_id")]
        key = tuple(row[k].isoformat() if k == "sale_date" else row[k] for k in keys)
        out[key] = {m: v for m, v in row.items() if m not in keys}
    return out
