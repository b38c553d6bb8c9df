"""Raw daily CSV files -> parsed rows in event-time order, and the rows that cannot be parsed."""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from retailpipe.errors import InputError
from retailpipe.schemas import RAW_COLUMNS
from retailpipe.storage import Storage, parse_raw_date

# A plain decimal: optional sign, digits, optional fraction. No exponents, NaN or infinity.
_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True, slots=True)
class Row:
    """One parsable raw row: its event time, its source position and its raw fields."""

    epoch: float
    event_time: dt.datetime
    iso_time: str  # event_time in ISO 8601, computed once here rather than per send
    file: str
    line_number: int
    fields: tuple[str, ...]  # in RAW_COLUMNS order


@dataclass(frozen=True)
class Skipped:
    """A row that was not sent, and why (a generator defect kind / batch reason code)."""

    file: str
    line_number: int
    reason: str
    detail: str
    raw: str  # the row's fields joined by commas (original quoting is not kept)


@dataclass
class Source:
    """Everything one replay reads: rows sorted by event time, plus the rows skipped."""

    files: list[Path]
    rows: list[Row] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def select_files(
    storage: Storage, date: dt.date | None, start: dt.date | None, end: dt.date | None
) -> list[Path]:
    """The raw daily files for one date, a date range (inclusive) or all of them, by date."""
    raw = storage.path("raw")
    if not raw.is_dir():
        raise InputError(
            f"no raw folder at {raw}",
            "run `retailpipe generate` first or point --root/storage.root at your data",
        )
    dated = sorted(
        (day, path) for path in raw.glob("transactions_*.csv")
        if (day := parse_raw_date(path.name)) is not None
    )
    if date is not None:
        start = end = date
    chosen = [
        path for day, path in dated
        if (start is None or day >= start) and (end is None or day <= end)
    ]
    if not chosen:
        wanted = "" if start is None and end is None else f" for {_describe(start, end)}"
        raise InputError(
            f"no raw transaction files{wanted} in {raw}",
            "run `retailpipe generate` or pick dates that exist (`ls` the raw folder)",
        )
    return chosen


def _describe(start: dt.date | None, end: dt.date | None) -> str:
    if start == end:
        return str(start)
    return f"{start or 'the first day'} to {end or 'the last day'}"


def read_source(files: list[Path]) -> Source:
    """Parse every row of `files`; sort the good ones by event time (stable: file, line)."""
    source = Source(files)
    for path in files:
        _read_file(path, source)
    source.rows.sort(key=lambda row: row.epoch)
    return source


def _read_file(path: Path, source: Source) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        order = _column_order(path, header)
        width = len(header or ())
        name = path.name
        rows, skipped = source.rows, source.skipped
        for values in reader:
            line = reader.line_num
            if len(values) != width:
                detail = f"{len(values)} fields, expected {width}"
                skipped.append(Skipped(name, line, "malformed_row", detail, ",".join(values)))
                continue
            fields = tuple(values[i] for i in order) if order else tuple(values)
            parsed = _event_time(fields)
            if isinstance(parsed, tuple):
                skipped.append(Skipped(name, line, *parsed, ",".join(values)))
                continue
            iso = _iso(parsed, fields[2])
            rows.append(Row(parsed.timestamp(), parsed, iso, name, line, fields))


def _column_order(path: Path, header: list[str] | None) -> list[int] | None:
    """Indexes that put the file's columns in RAW_COLUMNS order (None: already in order)."""
    names = [column.strip().lower() for column in header or ()]
    if tuple(names) == RAW_COLUMNS:
        return None
    missing = [column for column in RAW_COLUMNS if column not in names]
    if missing:
        raise InputError(
            f"{path.name} lacks the column(s) {', '.join(missing)} (header: {','.join(names)})",
            "replay reads files written by `retailpipe generate`; map other exports with "
            "`retailpipe batch`",
        )
    return [names.index(column) for column in RAW_COLUMNS]


def _event_time(fields: tuple[str, ...]) -> dt.datetime | tuple[str, str]:
    """The row's event time, or why it cannot become an event: (reason, detail)."""
    integer, decimal = _INTEGER.fullmatch, _DECIMAL.fullmatch
    numbers_ok = (
        integer(fields[1]) and integer(fields[6])
        and (not fields[7] or decimal(fields[7])) and (not fields[8] or decimal(fields[8]))
    )
    if not numbers_ok:
        return _bad_number(fields)
    try:
        when = dt.datetime.fromisoformat(fields[2])
    except ValueError:
        return "bad_timestamp", f"timestamp {fields[2]!r} is not ISO 8601"
    if when.tzinfo is None:
        return "bad_timestamp", f"timestamp {fields[2]!r} has no UTC offset"
    return when


def _bad_number(fields: tuple[str, ...]) -> tuple[str, str]:
    for index, name in ((1, "line_no"), (6, "quantity")):
        if not _INTEGER.fullmatch(fields[index]):
            return "bad_number", f"{name} {fields[index]!r} is not an integer"
    for index, name in ((7, "unit_price"), (8, "discount_pct")):
        if fields[index] and not _DECIMAL.fullmatch(fields[index]):
            return "bad_number", f"{name} {fields[index]!r} is not a decimal"
    raise AssertionError("called for a row whose numbers parse")


def _iso(when: dt.datetime, text: str) -> str:
    """`when.isoformat()`, reusing the CSV text when it already is exactly that form."""
    if len(text) == 25 and text[10] == "T" and text[19] in "+-":
        return text
    return when.isoformat()
