"""Query-string parsing and validation: a bad parameter is a 400 with a message."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from werkzeug.datastructures import MultiDict

# Store ids, categories, payment methods: plain tokens, never paths or markup.
TOKEN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
CENT = Decimal("0.01")
RATIO = Decimal("0.0001")


class BadRequest(ValueError):
    """A query parameter is invalid; the message says which and why."""


@dataclass(frozen=True)
class BatchQuery:
    """The batch dashboard's filters: a date range (inclusive), a store and a category."""

    start: dt.date | None = None
    end: dt.date | None = None
    store: str | None = None
    category: str | None = None

    @property
    def filtered(self) -> bool:
        """True when the view needs line items (store or category), not just daily aggregates."""
        return self.store is not None or self.category is not None


def parse_date(args: MultiDict[str, str], name: str) -> dt.date | None:
    raw = args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw!r} is not a date; write it as YYYY-MM-DD") from None


def parse_token(args: MultiDict[str, str], name: str) -> str | None:
    raw = args.get(name, "").strip()
    if not raw or raw.lower() == "all":
        return None
    if not TOKEN.match(raw):
        raise BadRequest(f"{name}={raw[:40]!r} is not a valid {name} id")
    return raw


def parse_int(args: MultiDict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}={value} is out of range; use {low}..{high}")
    return value


def parse_batch_query(args: MultiDict[str, str]) -> BatchQuery:
    """The filters from `?start=&end=&store=&category=`."""
    query = BatchQuery(
        start=parse_date(args, "start"),
        end=parse_date(args, "end"),
        store=parse_token(args, "store"),
        category=parse_token(args, "category"),
    )
    if query.start and query.end and query.start > query.end:
        raise BadRequest(f"start={query.start} is after end={query.end}")
    return query


def money(value: Decimal | int | None) -> str:
    """Exact money as a string with two decimals ("1234.50"); JSON numbers could round it."""
    return str(Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP))


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> str | None:
    """numerator / denominator rounded half-up to 4 places, as a string; None if undefined."""
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(RATIO, rounding=ROUND_HALF_UP))
