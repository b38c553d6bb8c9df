"""An independent send order for raw files: csv + decimal + datetime, nothing from retailpipe.

The rule (docs/kafka.md): every row that can become an event, in event-time order across
all files; rows at the same instant in file order (files by name), then line order.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class OracleRow:
    instant: dt.datetime  # UTC
    file_index: int
    line: int  # physical line where the row ends (as csv.reader counts)
    file: str
    values: dict[str, str]

    @property
    def key(self) -> tuple[str, str, str]:
        """What a consumer can see of the row: (transaction_id, line_no, timestamp)."""
        return (self.values["transaction_id"], self.values["line_no"], self.values["timestamp"])


def send_order(folder: Path) -> list[OracleRow]:
    """The rows of every `transactions_*.csv` in `folder` that replay must send, in order."""
    rows = []
    for index, path in enumerate(sorted(folder.glob("transactions_*.csv"))):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = [name.strip().lower() for name in next(reader)]
            for fields in reader:
                instant = _instant(header, fields)
                if instant is not None:
                    values = dict(zip(header, fields, strict=True))
                    rows.append(OracleRow(instant, index, reader.line_num, path.name, values))
    return sorted(rows, key=lambda row: (row.instant, row.file_index, row.line))


def _instant(header: list[str], fields: list[str]) -> dt.datetime | None:
    """The row's UTC instant, or None when the row cannot become an event."""
    if len(fields) != len(header):
        return None
    row = dict(zip(header, fields, strict=True))
    if not (INTEGER.fullmatch(row["line_no"]) and INTEGER.fullmatch(row["quantity"])):
        return None
    if not all(_plain_decimal(row[name]) for name in ("unit_price", "discount_pct")):
        return None
    try:
        when = dt.datetime.fromisoformat(row["timestamp"])
    except ValueError:
        return None
    return None if when.tzinfo is None else when.astimezone(dt.UTC)


def _plain_decimal(text: str) -> bool:
    if not text:
        return True
    if any(mark in text.lower() for mark in ("e", "n", "i", "+", "_", " ")):
        return False  # exponents, NaN, infinity, signs and spacing Decimal would accept
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False
