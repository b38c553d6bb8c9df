"""The tests' one independent reading of raw rows, per docs/data-contract.md and the reason
codes of docs/batch.md: plain `csv`, `decimal` and `datetime`, nothing from retailpipe.

Every stage's oracle (batch, stream, generate, serve) takes its row rules and money from
here, so the rules are written once and the oracles cannot disagree about a row.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

CENT = Decimal("0.01")
COLUMNS = (
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
)
REQUIRED = (
    "transaction_id",
    "line_no",
    "timestamp",
    "store_id",
    "product_id",
    "quantity",
    "unit_price",
    "payment_method",
)
# ISO 8601 with a UTC offset or Z; a space may stand in for the T (docs/batch.md).
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


def money(text: str, places: int) -> Decimal | None:
    """A finite decimal with at most `places` decimals, else None."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value.as_tuple().exponent < -places:  # type: ignore[operator]
        return None
    return value


def amounts(quantity: int, unit_price: Decimal, pct: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(gross, discount, net) of one line: each rounded half-up to cents before any sum."""
    gross = (quantity * unit_price).quantize(CENT, ROUND_HALF_UP)
    discount = (gross * pct).quantize(CENT, ROUND_HALF_UP)
    return gross, discount, gross - discount


def timestamp(text: str) -> dt.datetime | None:
    """The time of sale with its own offset, or None when it is not one."""
    if not ISO.match(text):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Line:
    """One valid raw line, typed, with its amounts."""

    transaction_id: str
    line_no: int
    ts: dt.datetime  # in the timestamp's own offset: its date is the sale date
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

    @property
    def hour(self) -> int:
        return self.ts.hour


def parse(
    rec: dict[str, str], stores: set[str] | None = None, products: set[str] | None = None
) -> Line | str:
    """A valid line, or the reason code the contract gives the row. Fields are trimmed; an
    empty `discount_pct` is no discount (it is optional). `stores`/`products` None: that
    dimension file is absent and its unknown-id check is off."""
    rec = {c: (rec.get(c) or "").strip() for c in COLUMNS}
    if any(not rec[c] for c in REQUIRED):
        return "missing_field"
    ts = timestamp(rec["timestamp"])
    if ts is None:
        return "bad_timestamp"
    price = money(rec["unit_price"], 2)
    pct = money(rec["discount_pct"] or "0", 4)
    whole = re.compile(r"-?\d+")
    if not whole.fullmatch(rec["quantity"]) or not whole.fullmatch(rec["line_no"]):
        return "bad_number"
    if price is None or pct is None or int(rec["line_no"]) < 1:
        return "bad_number"
    quantity = int(rec["quantity"])
    if price < 0:
        return "negative_price"
    if quantity == 0:
        return "zero_quantity"
    if not Decimal(0) <= pct < 1:
        return "discount_out_of_range"
    if stores is not None and rec["store_id"] not in stores:
        return "unknown_store"
    if products is not None and rec["product_id"] not in products:
        return "unknown_product"
    return Line(
        rec["transaction_id"],
        int(rec["line_no"]),
        ts,
        rec["store_id"],
        rec["product_id"],
        rec["category"],
        quantity,
        price,
        pct,
        rec["payment_method"],
        rec["customer_id"],
        *amounts(quantity, price, pct),
    )


def parse_fields(
    fields: list[str],
    header: list[str] | tuple[str, ...] = COLUMNS,
    stores: set[str] | None = None,
    products: set[str] | None = None,
) -> Line | str:
    """One CSV row (its fields under `header`) as a Line or a reason code."""
    if len(fields) != len(header):
        return "malformed_row"
    return parse(dict(zip(header, fields, strict=True)), stores, products)


@dataclass
class Reading:
    """Every raw transaction row: the valid de-duplicated lines and the rest by reason."""

    lines: list[Line] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # file, line, reason
    duplicates: int = 0
    rows: int = 0


def ids(path: Path) -> set[str] | None:
    """The first column's values of a dimension file; None when the file is absent."""
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        return {row[0] for row in list(csv.reader(handle))[1:] if row}


def raw_rows(raw_dir: Path) -> Iterator[tuple[str, int, list[str], list[str]]]:
    """(file name, physical line, header, fields) of every data row, files in name order."""
    for path in sorted(raw_dir.glob("transactions_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            for fields in reader:
                if fields:  # blank lines are not rows
                    yield path.name, reader.line_num, header, fields


def read_raw(raw_dir: Path, dimensions: bool = True) -> Reading:
    """Every valid, de-duplicated (first one wins) line of `raw_dir/transactions_*.csv` and
    every rejection. `dimensions`: check ids against stores.csv / products.csv if present."""
    stores = ids(raw_dir / "stores.csv") if dimensions else None
    products = ids(raw_dir / "products.csv") if dimensions else None
    return _reading(raw_dir, lambda fields, header: parse_fields(fields, header, stores, products))


def _reading(raw_dir: Path, parse_row: Callable[[list[str], list[str]], Line | str]) -> Reading:
    """Every row of the day files through `parse_row` (fields, header): the valid lines,
    first one of each (transaction_id, line_no) winning, and the rejections."""
    reading = Reading()
    seen: set[tuple[str, int]] = set()
    for name, line_number, header, fields in raw_rows(raw_dir):
        reading.rows += 1
        parsed = parse_row(fields, header)
        if isinstance(parsed, str):
            reading.reasons[parsed] += 1
            reading.rejected.append((name, line_number, parsed))
            continue
        key = (parsed.transaction_id, parsed.line_no)
        if key in seen:
            reading.duplicates += 1
            continue
        seen.add(key)
        reading.lines.append(parsed)
    return reading


# Local times (no UTC offset) and labels, per docs/import.md and docs/batch.md: used by the
# hand-written corpus (tests/corpus/handwritten/); the functions above are unchanged.
LOCAL_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}$")


def local_time(text: str, zone: str) -> dt.datetime | None:
    """A local time read in `zone` (docs/import.md): the wall clock as written, with the UTC
    offset that gives its instant. A time that occurs twice (clocks going back) is its
    earlier instant; one that does not exist (the hour the clocks skip) is moved forward by
    the gap. None when `text` is not a local ISO time."""
    from zoneinfo import ZoneInfo

    if not LOCAL_ISO.match(text):
        return None
    try:
        wall = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    tz = ZoneInfo(zone)

    def instants(clock: dt.datetime) -> list[dt.datetime]:
        """Every UTC instant whose wall clock in `zone` is `clock` (0, 1 or 2 of them)."""
        found = set()
        for fold in (0, 1):
            offset = clock.replace(tzinfo=tz, fold=fold).utcoffset()
            assert offset is not None
            instant = (clock - offset).replace(tzinfo=dt.UTC)
            if instant.astimezone(tz).replace(tzinfo=None) == clock:
                found.add(instant)
        return sorted(found)

    found = instants(wall)
    if not found:  # skipped: move the wall clock forward by the gap, then read it
        before = wall.replace(tzinfo=tz, fold=0).utcoffset()
        after = wall.replace(tzinfo=tz, fold=1).utcoffset()
        assert before is not None and after is not None
        gap = abs(after - before)
        found = instants(wall + gap)
        assert found, f"{text} in {zone}: still no instant after moving by {gap}"
    instant = found[0]
    return wall.replace(tzinfo=dt.timezone(wall - instant.replace(tzinfo=None)))


def store_zones(path: Path) -> dict[str, str]:
    """store_id -> its non-empty `timezone` column of stores.csv (none when absent)."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        r["store_id"].strip(): r["timezone"].strip()
        for r in rows
        if (r.get("timezone") or "").strip()
    }


def parse_zoned(
    rec: dict[str, str],
    zones: dict[str, str],
    default_zone: str | None,
    stores: set[str] | None = None,
    products: set[str] | None = None,
) -> Line | str:
    """`parse`, with a local time read in its store's zone (`zones`, from stores.csv), else
    in `default_zone` (batch.timezone); with neither it stays a bad_timestamp."""
    text = (rec.get("timestamp") or "").strip()
    zone = zones.get((rec.get("store_id") or "").strip()) or default_zone
    when = local_time(text, zone) if zone else None
    if when is not None:
        rec = {**rec, "timestamp": when.isoformat()}
    return parse(rec, stores, products)


def normalise_label(text: str) -> str:
    """A category or payment label as batch stores it (docs/batch.md): trimmed, lower case,
    spaces as underscores (`Personal Care` -> `personal_care`)."""
    return re.sub(r"\s+", "_", text.strip().lower())


def normalise_payment(text: str) -> str:
    """A payment label as batch stores it: `normalise_label`, and `Credit Card` -> `card`."""
    label = normalise_label(text)
    return {"credit_card": "card"}.get(label, label)


def read_raw_zoned(raw_dir: Path, default_zone: str | None) -> Reading:
    """`read_raw` (with dimension files) where local times are read in the store's zone
    (stores.csv) or `default_zone`."""
    stores, products = ids(raw_dir / "stores.csv"), ids(raw_dir / "products.csv")
    zones = store_zones(raw_dir / "stores.csv")

    def parse_row(fields: list[str], header: list[str]) -> Line | str:
        if len(fields) != len(header):
            return "malformed_row"
        record = dict(zip(header, fields, strict=True))
        return parse_zoned(record, zones, default_zone, stores, products)

    return _reading(raw_dir, parse_row)
