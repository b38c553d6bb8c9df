"""`retailpipe inspect`: a first look at a foreign export, without Spark.

For each file: how its header maps onto the canonical columns (aliases applied), the first
rows read the way the batch job reads them (the UTC instant of the timestamp, the line's
net amount by the money rules), and the counts by reason code on a sample. It is a
preview: the batch job (transforms/cleanse.py) is the authority, and the checks that need
the whole input (duplicates, unknown stores and products) are left to it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from retailpipe.batch.extract import FileMapping, map_header
from retailpipe.errors import InputError
from retailpipe.transforms.cleanse import (
    LOCAL_TIMESTAMP_PATTERN,
    NO_OFFSET,
    REQUIRED_TEXT,
    TIMESTAMP_PATTERN,
)
from retailpipe.transforms.money import MAX_PRICE, MAX_QUANTITY

CENT = Decimal("0.01")
VALID = "valid"
_WITH_OFFSET = re.compile(TIMESTAMP_PATTERN)
_LOCAL = re.compile(LOCAL_TIMESTAMP_PATTERN)


@dataclass
class Row:
    """One record as the batch job would read it."""

    line: int
    fields: dict[str, str | None]
    instant: dt.datetime | None = None
    net: Decimal | None = None
    reason: str = VALID
    detail: str = ""


@dataclass
class Inspection:
    """What `inspect` learnt about one file."""

    path: Path
    encoding: str
    mapping: FileMapping
    header: list[str]
    first: list[Row] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    details: dict[str, str] = field(default_factory=dict)
    sampled: int = 0

    @property
    def amount_only(self) -> bool:
        return "unit_price" not in self.mapping.columns


def inspect_file(
    path: Path,
    aliases: dict[str, list[str]],
    timezone: str | None,
    *,
    show: int = 5,
    sample: int = 10_000,
) -> Inspection:
    """Map the header of `path`, read its first `show` rows and check `sample` rows."""
    text, encoding = _decode(path)
    records = csv.reader(io.StringIO(text, newline=""))
    header = next(records, None)
    if not header:
        raise InputError(f"{path} is empty", "export the file with a header row")
    header = [name.replace("\ufeff", "") for name in header]
    result = Inspection(path, encoding, map_header(header, aliases), header)
    zone = ZoneInfo(timezone) if timezone else None
    for row in itertools.islice(_rows(records, result.mapping, len(header)), sample):
        if result.mapping.mappable:
            _check(row, result.amount_only, zone)
        else:
            row.reason, row.detail = (
                "unmappable_file",
                "missing " + ", ".join(result.mapping.missing),
            )
        result.sampled += 1
        result.reasons[row.reason] += 1
        result.details.setdefault(row.reason, row.detail)
        if len(result.first) < show:
            result.first.append(row)
    return result


def _decode(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", "check the path") from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def _rows(records: Iterator[list[str]], mapping: FileMapping, width: int) -> Iterator[Row]:
    for number, record in enumerate(records, start=2):
        if not any(value.strip() for value in record):
            continue
        fields: dict[str, str | None] = {
            name: _text(record[index]) if index < len(record) else None
            for name, index in mapping.columns.items()
        }
        row = Row(number, fields)
        if len(record) != width:
            row.reason, row.detail = "malformed_row", "field count differs from the header"
        yield row


def _text(value: str) -> str | None:
    value = value.strip()
    return value or None


def _check(row: Row, amount_only: bool, zone: ZoneInfo | None) -> None:
    """The batch job's checks that one row can answer, in the batch job's order."""
    if row.reason != VALID:
        return
    f = row.fields
    needed = [*REQUIRED_TEXT, "amount" if amount_only else "unit_price"]
    missing = [name for name in needed if f.get(name) is None]
    if missing:
        row.reason, row.detail = "missing_field", "empty: " + ", ".join(missing)
        return
    row.instant, no_offset = _instant(f["timestamp"] or "", zone)
    if row.instant is None:
        row.reason = "bad_timestamp"
        row.detail = f"timestamp {f['timestamp']}" + (f" {NO_OFFSET}" if no_offset else "")
        return
    quantity = _number(f["quantity"], 0)
    price = _number(f.get("unit_price"), 2)
    amount = _number(f.get("amount"), 2)
    discount = _number(f.get("discount_pct"), 4) if f.get("discount_pct") else Decimal(0)
    for name, value, limit in (
        ("quantity", quantity, MAX_QUANTITY),
        ("unit_price", price, MAX_PRICE),
        ("amount", amount, MAX_PRICE),
        ("discount_pct", discount, None),
    ):
        given = f.get(name) is not None
        if given and (value is None or (limit is not None and abs(value) > limit)):
            row.reason, row.detail = "bad_number", f"{name} {f[name]}"
            return
    assert quantity is not None and discount is not None
    if price is not None and price < 0:
        row.reason, row.detail = "negative_price", f"unit_price {f['unit_price']}"
    elif amount_only and amount is not None and amount * quantity < 0:
        row.reason, row.detail = "negative_price", "amount and quantity have opposite signs"
    elif quantity == 0:
        row.reason, row.detail = "zero_quantity", "quantity 0"
    elif not amount_only and not 0 <= discount < 1:
        row.reason = "discount_out_of_range"
        row.detail = f"discount_pct {f['discount_pct']} not in [0, 1)"
    elif amount_only:
        row.net = amount
    else:
        assert price is not None
        gross = (quantity * price).quantize(CENT, ROUND_HALF_UP)
        row.net = gross - (gross * discount).quantize(CENT, ROUND_HALF_UP)


def _instant(text: str, zone: ZoneInfo | None) -> tuple[dt.datetime | None, bool]:
    """The UTC instant of a timestamp, and whether it failed only for want of a zone."""
    try:
        if _WITH_OFFSET.match(text):
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment.astimezone(dt.UTC), False
        if _LOCAL.match(text):
            if zone is None:
                return None, True
            # fold=0: a repeated local time is its earlier instant, a skipped one moves
            # forward by the gap, as in the batch job (Java's time library).
            return dt.datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(dt.UTC), False
    except ValueError:  # a calendar-impossible date, or more than 6 decimal places
        pass
    return None, False


def _number(text: str | None, places: int) -> Decimal | None:
    """A decimal with at most `places` places (0: a whole number), else None."""
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.quantize(Decimal(1).scaleb(-places)):
        return None
    return value
