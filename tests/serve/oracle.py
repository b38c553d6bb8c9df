"""Independent expected figures for the dashboards, in plain Python from the raw CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from tests.oracle import parse_fields

CENT = Decimal("0.01")
RATIO = Decimal("0.0001")


@dataclass(frozen=True)
class Line:
    transaction_id: str
    line_no: int
    timestamp: dt.datetime
    store_id: str
    product_id: str
    category: str
    quantity: int
    unit_price: Decimal
    discount_pct: Decimal
    payment_method: str
    customer_id: str

    @property
    def sale_date(self) -> dt.date:
        return self.timestamp.date()  # the local date, in the timestamp's own offset

    @property
    def hour(self) -> int:
        return self.timestamp.hour

    @property
    def gross(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def discount(self) -> Decimal:
        return (self.gross * self.discount_pct).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def net(self) -> Decimal:
        return self.gross - self.discount


def _parse(row: list[str], header: list[str]) -> Line | None:
    """One CSV row as a Line, or None if a rule of tests/oracle.py rejects it."""
    line = parse_fields(row, header)
    if isinstance(line, str):
        return None
    return Line(
        line.transaction_id,
        line.line_no,
        line.ts,
        line.store_id,
        line.product_id,
        line.category,
        line.quantity,
        line.unit_price,
        line.discount_pct,
        line.payment_method,
        line.customer_id,
    )


def load_lines(root: Path) -> list[Line]:
    """Every valid, de-duplicated line of `root/raw/transactions_*.csv`."""
    seen: set[tuple[str, int]] = set()
    lines: list[Line] = []
    for path in sorted((root / "raw").glob("transactions_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            for row in reader:
                line = _parse(row, header)
                if line is None or (line.transaction_id, line.line_no) in seen:
                    continue
                seen.add((line.transaction_id, line.line_no))
                lines.append(line)
    _check_against_manifest(root, lines)
    return lines


def _check_against_manifest(root: Path, lines: list[Line]) -> None:
    """The generator's truth manifest must agree with this parser, or the oracle is wrong."""
    manifest = json.loads((root / "raw" / "_manifest.json").read_text())
    counts: dict[str, int] = defaultdict(int)
    for line in lines:
        counts[line.sale_date.isoformat()] += 1
    expected = {d: v["valid_lines"] for d, v in manifest["sale_dates"].items()}
    assert dict(counts) == expected, "oracle parser disagrees with the generator manifest"


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def ratio(num: Decimal, den: Decimal) -> str | None:
    return None if not den else str((num / den).quantize(RATIO, rounding=ROUND_HALF_UP))


def select(
    lines: Iterable[Line],
    start: dt.date,
    end: dt.date,
    store: str | None = None,
    category: str | None = None,
) -> list[Line]:
    return [
        x
        for x in lines
        if start <= x.sale_date <= end
        and (store is None or x.store_id == store)
        and (category is None or x.category == category)
    ]


def kpis(lines: list[Line]) -> dict[str, Any]:
    net = sum((x.net for x in lines), Decimal(0))
    receipts = len({x.transaction_id for x in lines})
    returned = sum((x.net for x in lines if x.quantity < 0), Decimal(0))
    sold = sum((x.net for x in lines if x.quantity > 0), Decimal(0))
    promo = sum((x.net for x in lines if x.discount_pct > 0), Decimal(0))
    return {
        "net_revenue": money(net),
        "transactions": receipts,
        "lines": len(lines),
        "units": sum(x.quantity for x in lines),
        "avg_basket": money(net / receipts) if receipts else None,
        "return_amount": money(returned),
        "return_rate": ratio(-returned, sold),
        "promo_revenue": money(promo),
        "promo_share": ratio(promo, net),
    }


def by(lines: list[Line], key: Callable[[Line], Any]) -> dict[Any, tuple[Decimal, int]]:
    """key -> (net revenue, units)."""
    out: dict[Any, list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    for x in lines:
        out[key(x)][0] += x.net
        out[key(x)][1] += x.quantity
    return {k: (v[0], v[1]) for k, v in out.items()}


def kpi_changes(now: list[Line], before: list[Line]) -> dict[str, str | None]:
    """Each tile's change against the previous period: relative for amounts and counts (of
    the figures as shown, i.e. the basket in cents), a plain difference for the two rates."""

    def basket(lines: list[Line]) -> Decimal:
        net = sum((x.net for x in lines), Decimal(0))
        return (net / len({x.transaction_id for x in lines})).quantize(CENT, ROUND_HALF_UP)

    def rates(lines: list[Line]) -> tuple[Decimal, Decimal]:
        net = sum((x.net for x in lines), Decimal(0))
        sold = sum((x.net for x in lines if x.quantity > 0), Decimal(0))
        returned = -sum((x.net for x in lines if x.quantity < 0), Decimal(0))
        promo = sum((x.net for x in lines if x.discount_pct > 0), Decimal(0))
        return (
            (returned / sold).quantize(RATIO, ROUND_HALF_UP),
            (promo / net).quantize(RATIO, ROUND_HALF_UP),
        )

    figures: dict[str, Callable[[list[Line]], Decimal]] = {
        "net_revenue": lambda lines: sum((x.net for x in lines), Decimal(0)),
        "transactions": lambda lines: Decimal(len({x.transaction_id for x in lines})),
        "units": lambda lines: Decimal(sum(x.quantity for x in lines)),
        "avg_basket": basket,
    }
    out: dict[str, str | None] = {}
    for key, figure in figures.items():
        new, old = figure(now), figure(before)
        out[key] = ratio(new - old, abs(old))
    (ret_now, promo_now), (ret_old, promo_old) = rates(now), rates(before)
    out["return_rate"] = str(ret_now - ret_old)
    out["promo_share"] = str(promo_now - promo_old)
    return out
