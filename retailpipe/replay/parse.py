"""One raw daily CSV file -> its sendable rows (an Arrow table, in line order) and the rest.

Reading is vectorised: pyarrow splits a file into string columns, pyarrow/numpy check and
convert them, and only the rows that fail a strict vectorised check go through the Python
checks, which have the final say (reasons and details). Files that need the CSV module's
exact handling (quoted values, lone CR line ends, empty lines) are split by the csv module.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from retailpipe.errors import InputError
from retailpipe.schemas import RAW_COLUMNS
from retailpipe.transforms.cleanse import NO_OFFSET

# A plain decimal: optional sign, digits, optional fraction. No exponents, NaN or infinity.
_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_INTEGER = re.compile(r"-?\d+")
# Vectorised checks: strict ASCII subsets of what the Python checks above accept.
_FAST_INTEGER = r"^(?:0|-?[1-9][0-9]{0,17})$"  # exactly as int() prints it, fits in int64
_FAST_DECIMAL = r"^(?:-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?$"  # or empty
# Timestamps `YYYY-MM-DDTHH:MM:SS+HH:MM` are checked and converted by numpy on their bytes.
_TIMESTAMP_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24]
_TIMESTAMP_MARKS = [4, 7, 10, 13, 16, 22]
_MARKS = np.frombuffer(b"--T:::", np.uint8)
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'  # characters JSON writes escaped
# Bytes that need JSON escaping, line ends aside (a file is searched for each, with no copy).
_ESCAPED_BYTES = [bytes([c]) for c in b"\\" + bytes(range(0x20)) if c not in b"\r\n"]
_TEXT_COLUMNS = tuple(c for c in RAW_COLUMNS if c not in ("line_no", "quantity"))
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)

# Columns besides RAW_COLUMNS (where line_no and quantity hold the integer as int() prints it).
FILE, LINE, EPOCH_US, OFFSET_US, ISO, PLAIN = (
    "_file",
    "_line",
    "_epoch_us",
    "_offset_us",
    "_iso",
    "_plain",
)
ROW_SCHEMA = pa.schema(
    [(name, pa.string()) for name in RAW_COLUMNS]
    + [
        (FILE, pa.int32()),
        (LINE, pa.int64()),
        (EPOCH_US, pa.int64()),
        (OFFSET_US, pa.int64()),
        (ISO, pa.string()),
        (PLAIN, pa.bool_()),
    ]
)


@dataclass(frozen=True)
class Skipped:
    """A row that was not sent, and why (a generator defect kind / batch reason code)."""

    file: str
    line_number: int
    reason: str
    detail: str
    raw: str  # the row's fields joined by commas (original quoting is not kept)


def read_file(
    path: Path,
    file_index: int,
    timezone: str | None = None,
    store_zones: Mapping[str, str] | None = None,
) -> tuple[pa.Table, list[Skipped]]:
    """The file's sendable rows in line order (columns of ROW_SCHEMA; `_file` is
    `file_index`), and its skipped rows in line order. A timestamp without a UTC offset is
    a local time in `timezone` (batch.timezone); without one such a row is skipped."""
    header, split = _split(path)
    order = _column_order(path, header)
    zones = _Zones(timezone, store_zones or {})
    table, bad = _validate(path.name, file_index, split, order, zones)
    return table, sorted(split.skipped + bad, key=lambda row: row.line_number)


@dataclass
class _Split:
    """A file split into fields: one string array per header column, valid-width rows only."""

    columns: list[pa.Array]
    lines: np.ndarray  # each row's line number
    skipped: list[Skipped]  # rows with a wrong field count
    plain_file: bool  # True: no value anywhere in the file needs JSON escaping


def _split(path: Path) -> tuple[list[str] | None, _Split]:
    """The header and the fields: pyarrow's reader where splitting at commas and line ends
    is exact (no quoting, no lone CR, no empty line), the csv module everywhere else."""
    data = path.read_bytes()
    end = data.find(b"\n")
    start = end + 1 if end >= 0 else len(data)  # where the body starts (no copy is made)
    simple = not (
        b'"' in data
        or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n"))
        or data.startswith((b"\n", b"\r\n"), start)
        or data.find(b"\n\n", start) >= 0
        or data.find(b"\n\r\n", start) >= 0
    )
    if not simple:
        return _split_exact(path)
    header_text = _decode(path, data if end < 0 else data[:end]).rstrip("\r")
    header = next(csv.reader([header_text]), None) if data else None
    body = pa.py_buffer(data).slice(start)
    plain = all(data.find(byte, start) < 0 for byte in _ESCAPED_BYTES)
    return header, _split_fast(path.name, body, len(header or ()), plain)


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name} is not UTF-8 text ({exc})", "save the file as UTF-8 CSV"
        ) from None


def _split_fast(name: str, body: pa.Buffer, width: int, plain: bool) -> _Split:
    invalid = 0

    def skip(_row: object) -> str:
        nonlocal invalid
        invalid += 1
        return "skip"

    names = [f"c{i}" for i in range(width)]
    if not body.size:
        return _Split([pa.array([], pa.string()) for _ in names], np.arange(0), [], True)
    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(quote_char=False, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"{name}: {exc}", "save the file as UTF-8 CSV") from None
    columns = [
        table[n].combine_chunks() if table.num_rows else pa.array([], pa.string()) for n in names
    ]
    if not invalid:
        return _Split(columns, np.arange(2, table.num_rows + 2), [], plain)
    lines, skipped = _field_counts(name, body, width)
    if len(lines) != table.num_rows:  # pragma: no cover - pyarrow and numpy disagree
        raise AssertionError(f"{name}: {table.num_rows} rows parsed, {len(lines)} expected")
    return _Split(columns, lines, skipped, plain)


def _field_counts(name: str, body: pa.Buffer, width: int) -> tuple[np.ndarray, list[Skipped]]:
    """Line numbers of the rows with `width` fields, and the others as skipped rows.

    pyarrow's invalid-row handler does not say which line it skipped (reading is threaded),
    so the lines are located here, from the positions of the commas and line ends."""
    buffer = np.frombuffer(body, np.uint8)
    ends = np.flatnonzero(buffer == ord("\n"))
    if len(buffer) and buffer[-1] != ord("\n"):
        ends = np.append(ends, len(buffer))
    commas = np.searchsorted(np.flatnonzero(buffer == ord(",")), ends)
    fields = np.diff(commas, prepend=0) + 1
    bad = np.flatnonzero(fields != width)
    starts = np.concatenate(([0], ends[:-1] + 1))
    skipped = [
        Skipped(
            name,
            int(k) + 2,
            "malformed_row",
            f"{fields[k]} fields, expected {width}",
            body[starts[k] : ends[k]].to_pybytes().decode("utf-8").rstrip("\r"),
        )
        for k in bad
    ]
    return np.flatnonzero(fields == width) + 2, skipped


def _split_exact(path: Path) -> tuple[list[str] | None, _Split]:
    """The csv module's reading (quotes, embedded line breaks), for files that need it."""
    lines, skipped = [], []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            width = len(header or ())
            values: list[list[str]] = [[] for _ in range(width)]
            for row in reader:
                if len(row) != width:
                    detail = f"{len(row)} fields, expected {width}"
                    skipped.append(
                        Skipped(path.name, reader.line_num, "malformed_row", detail, ",".join(row))
                    )
                    continue
                lines.append(reader.line_num)
                for column, value in zip(values, row, strict=True):
                    column.append(value)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name} is not UTF-8 text ({exc})", "save the file as UTF-8 CSV"
        ) from None
    columns = [pa.array(column, pa.string()) for column in values]
    return header, _Split(columns, np.array(lines, dtype=np.int64), skipped, False)


def _column_order(path: Path, header: list[str] | None) -> list[int]:
    """Indexes of the file's columns in RAW_COLUMNS order."""
    names = [column.strip().lower() for column in header or ()]
    missing = [column for column in RAW_COLUMNS if column not in names]
    if missing:
        raise InputError(
            f"{path.name} lacks the column(s) {', '.join(missing)} (header: {','.join(names)})",
            "replay reads files written by `retailpipe generate`; map other exports with "
            "`retailpipe batch`",
        )
    return [names.index(column) for column in RAW_COLUMNS]


def _validate(
    name: str,
    file_index: int,
    split: _Split,
    order: list[int],
    zones: _Zones,
) -> tuple[pa.Table, list[Skipped]]:
    """The file's sendable rows (line order) with their event times, and the unparsable rows."""
    raw = dict(zip(RAW_COLUMNS, (split.columns[i] for i in order), strict=True))
    count = len(split.lines)
    fast, epoch_us, offset_us = _fast_times(raw["timestamp"], _fast_numbers(raw))
    derived = {"line_no": raw["line_no"], "quantity": raw["quantity"], ISO: raw["timestamp"]}
    slow = np.flatnonzero(~fast)
    bad: list[Skipped] = []
    valid = fast.copy()
    if len(slow):
        rows = zip(*(pc.take(raw[c], slow).to_pylist() for c in RAW_COLUMNS), strict=True)
        lines = zip(*(pc.take(c, slow).to_pylist() for c in split.columns), strict=True)
        fixed: dict[str, list[str]] = {key: [] for key in derived}
        for index, fields, values in zip(slow, rows, lines, strict=True):
            row = dict(zip(RAW_COLUMNS, fields, strict=True))
            parsed = _event_time(row, zones.of(row["store_id"]))
            if isinstance(parsed, tuple):
                bad.append(Skipped(name, int(split.lines[index]), *parsed, ",".join(values)))
                continue
            valid[index] = True
            epoch_us[index] = (parsed - _EPOCH) // _MICROSECOND
            offset = parsed.utcoffset() or dt.timedelta()
            offset_us[index] = offset // _MICROSECOND
            fixed["line_no"].append(str(int(row["line_no"])))
            fixed["quantity"].append(str(int(row["quantity"])))
            fixed[ISO].append(_iso(parsed, row["timestamp"]))
        mask = pa.array(valid & ~fast)
        if fixed["line_no"]:
            derived = {
                key: pc.replace_with_mask(derived[key], mask, pa.array(fixed[key], pa.string()))
                for key in derived
            }
    columns = {c: raw[c] for c in RAW_COLUMNS} | {
        "line_no": derived["line_no"],
        "quantity": derived["quantity"],
        FILE: pa.array(np.full(count, file_index, dtype=np.int32)),
        LINE: pa.array(split.lines.astype(np.int64)),
        EPOCH_US: pa.array(epoch_us),
        OFFSET_US: pa.array(offset_us),
        ISO: derived[ISO],
        PLAIN: _plain(raw, count, split.plain_file),
    }
    table = pa.Table.from_pydict(columns, schema=ROW_SCHEMA)
    return table.filter(pa.array(valid)), bad


def _fast_numbers(raw: dict[str, pa.Array]) -> np.ndarray:
    """Per row: True when every number is in the form the vectorised path accepts."""
    return _all(
        pc.match_substring_regex(raw["line_no"], _FAST_INTEGER),
        pc.match_substring_regex(raw["quantity"], _FAST_INTEGER),
        pc.match_substring_regex(raw["unit_price"], _FAST_DECIMAL),
        pc.match_substring_regex(raw["discount_pct"], _FAST_DECIMAL),
    )


def _all(*masks: pa.Array) -> np.ndarray:
    result = masks[0]
    for mask in masks[1:]:
        result = pc.and_(result, mask)
    return np.asarray(result.to_numpy(zero_copy_only=False), dtype=bool)


def _plain(raw: dict[str, pa.Array], count: int, plain_file: bool) -> pa.Array:
    """Per row: True when no text field needs JSON escaping."""
    if plain_file or not count:
        return pa.array(np.ones(count, dtype=bool))
    return pa.array(
        _all(*(pc.invert(pc.match_substring_regex(raw[c], _NEEDS_ESCAPE)) for c in _TEXT_COLUMNS))
    )


def _fast_times(
    text: pa.Array,
    candidate: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For `YYYY-MM-DDTHH:MM:SS+HH:MM` rows: (valid calendar time, UTC epoch us, offset us).

    Years 2..9998 only, so no offset can leave the range Python's datetime handles.
    """
    count = len(candidate)
    zeros = np.zeros(count, dtype=np.int64)
    if not count or not candidate.any():
        return np.zeros(count, dtype=bool), zeros, zeros.copy()
    offsets = np.frombuffer(text.buffers()[1], np.int32)[text.offset : text.offset + count + 1]
    if not (np.diff(offsets) == 25).all():
        candidate = candidate & (np.diff(offsets) == 25)
        filler = pa.scalar("2000-01-01T00:00:00+00:00", pa.string())
        text = pc.if_else(pa.array(candidate), text, filler)
        offsets = np.frombuffer(text.buffers()[1], np.int32)[text.offset : text.offset + count + 1]
    chars = np.frombuffer(text.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].reshape(count, 25)
    digits = chars[:, _TIMESTAMP_DIGITS] - np.uint8(ord("0"))  # a non-digit wraps past 9
    shape_ok = (
        (digits <= 9).all(axis=1)
        & (chars[:, _TIMESTAMP_MARKS] == _MARKS).all(axis=1)
        & ((chars[:, 19] == ord("+")) | (chars[:, 19] == ord("-")))
    )
    pairs = digits[:, 0::2].astype(np.int64) * 10 + digits[:, 1::2]
    century, year_of_century, month, day, hour, minute, second, offset_h, offset_m = pairs.T
    year = century * 100 + year_of_century
    sign = np.where(chars[:, 19] == ord("-"), -1, 1)
    offset_s = sign * (offset_h * 3600 + offset_m * 60)
    # numpy's calendar: the first day of the month and of the next one, in days since 1970.
    months = (year - 1970) * 12 + np.clip(month, 1, 12) - 1
    first_day = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    next_first = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    ok = (
        candidate
        & shape_ok
        & (year >= 2)
        & (year <= 9998)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= next_first - first_day)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
        & (offset_h <= 23)
        & (offset_m <= 59)
    )
    days = first_day + day - 1
    epoch_s = days * 86400 + hour * 3600 + minute * 60 + second - offset_s
    return ok, np.where(ok, epoch_s * 1_000_000, 0), np.where(ok, offset_s * 1_000_000, 0)


class _Zones:
    """The zone a local time is read in: its store's (stores.csv), else batch.timezone."""

    def __init__(self, default: str | None, stores: Mapping[str, str]) -> None:
        self.default = ZoneInfo(default) if default else None
        self.stores = {store: ZoneInfo(name) for store, name in stores.items()}

    def of(self, store_id: str) -> ZoneInfo | None:
        return self.stores.get(store_id.strip(), self.default)


def _event_time(row: dict[str, str], zone: ZoneInfo | None) -> dt.datetime | tuple[str, str]:
    """The row's event time, or why it cannot become an event: (reason, detail). A local
    time (no offset) is read in `zone`, as the batch job reads it (a repeated local time is
    its earlier instant, a skipped one moves forward by the gap)."""
    bad_number = _bad_number(row)
    if bad_number is not None:
        return "bad_number", bad_number
    try:
        when = dt.datetime.fromisoformat(row["timestamp"])
    except ValueError:
        return "bad_timestamp", f"timestamp {row['timestamp']!r} is not ISO 8601"
    if when.tzinfo is None:
        if zone is None:
            return "bad_timestamp", f"timestamp {row['timestamp']!r} {NO_OFFSET}"
        return when.replace(tzinfo=zone)
    return when


def _bad_number(row: dict[str, str]) -> str | None:
    """What is wrong with the first number that does not parse, if any."""
    # Spaces around a number do not matter (the batch job trims every field).
    for name in ("line_no", "quantity"):
        if not _INTEGER.fullmatch(row[name].strip()):
            return f"{name} {row[name]!r} is not an integer"
    for name in ("unit_price", "discount_pct"):
        if row[name].strip() and not _DECIMAL.fullmatch(row[name].strip()):
            return f"{name} {row[name]!r} is not a decimal"
    return None


def _iso(when: dt.datetime, text: str) -> str:
    """`when.isoformat()`, reusing the CSV text when it already is exactly that form."""
    if len(text) == 25 and text[10] == "T" and text[19] in "+-":
        return text
    return when.isoformat()
