"""Raw rows -> Kafka JSON events (docs/kafka.md, "Event schema"; fields of schemas.EVENT_SCHEMA).

`event()` builds one event as a dict; `payloads()` builds the same JSON bytes for a whole
batch of `Source.table` rows at once (pyarrow string kernels), which is what replay sends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from binascii import hexlify
from collections.abc import Callable
from functools import partial
from itertools import repeat
from operator import methodcaller
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retailpipe.replay.parse import EPOCH_US, ISO, OFFSET_US, PLAIN
from retailpipe.schemas import RAW_COLUMNS, RAW_INDEX, SCHEMA_VERSION

try:  # orjson is several times faster; the standard library gives the same bytes' meaning
    import orjson

    _fast_dumps: Callable[[Any], bytes] | None = orjson.dumps
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _fast_dumps = None


# Text fields that become null when empty, in event order after the leading fields.
_NULLABLE = (
    "transaction_id",
    "store_id",
    "product_id",
    "category",
    "unit_price",
    "discount_pct",
    "payment_method",
    "customer_id",
)
_BLAKE2B_128 = partial(hashlib.blake2b, digest_size=16)
_DIGEST = methodcaller("digest")


def _text(value: str) -> pa.Scalar:
    # Literals go to pyarrow kernels as scalars: a Python str would be converted on every
    # call, and pyarrow's converter tries to import an optional module each time.
    return pa.scalar(value, pa.string())


_EMPTY, _QUOTE, _NULL, _UNIT_SEPARATOR = _text(""), _text('"'), _text("null"), _text("\x1f")


def event_id(transaction_id: str, line_no: int, generation: int = 0) -> str:
    """A stable id for the row with key (transaction_id, line_no): 32 hex digits of BLAKE2b.

    `generation` > 0 (later passes of `--loop`) gives the same row a new id, so a stream
    that de-duplicates by event_id counts each pass.
    """
    text = f"{transaction_id}\x1f{line_no}" + (f"\x1f{generation}" if generation else "")
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def event(
    fields: tuple[str, ...],
    when: dt.datetime,
    shift: dt.timedelta | None,
    generation: int = 0,
    iso_time: str | None = None,
) -> dict[str, Any]:
    """The event for one parsed raw row (`fields` in RAW_COLUMNS order).

    Money and rates stay decimal strings exactly as in the CSV; empty text becomes null.
    `event_time` is the row's timestamp (moved by `shift` if given) in its own UTC offset;
    `iso_time`, when given, is `when.isoformat()` computed beforehand.
    """
    event_time = (when + shift).isoformat() if shift else iso_time or when.isoformat()
    number = int(fields[RAW_INDEX["line_no"]])
    identifier = event_id(fields[RAW_INDEX["transaction_id"]], number, generation)
    return _event(fields, identifier, event_time)


def _event(fields: tuple[str, ...], identifier: str, event_time: str) -> dict[str, Any]:
    row = dict(zip(RAW_COLUMNS, fields, strict=True))
    return {
        "event_id": identifier,
        "event_time": event_time,
        "schema_version": SCHEMA_VERSION,
        "transaction_id": row["transaction_id"] or None,
        "line_no": int(row["line_no"]),
        "timestamp": row["timestamp"],
        "store_id": row["store_id"] or None,
        "product_id": row["product_id"] or None,
        "category": row["category"] or None,
        "quantity": int(row["quantity"]),
        "unit_price": row["unit_price"] or None,
        "discount_pct": row["discount_pct"] or None,
        "payment_method": row["payment_method"] or None,
        "customer_id": row["customer_id"] or None,
    }


def encode(value: dict[str, Any]) -> bytes:
    """The UTF-8 JSON bytes of an event."""
    if _fast_dumps is not None:
        try:
            return _fast_dumps(value)
        except TypeError:  # orjson refuses integers beyond 64 bits; JSON itself does not
            pass
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def payloads(batch: pa.Table, generation: int = 0, shift_s: int | None = None) -> list[bytes]:
    """The JSON bytes of every row of `batch` (rows of `Source.table`), equal to
    `encode(event(...))` of each row: event_id from (transaction_id, line_no, generation),
    event_time moved by `shift_s` whole seconds when given."""
    if not batch.num_rows:
        return []
    event_times = batch[ISO] if shift_s is None else shifted_times(batch, shift_s)
    ids = event_ids(batch, generation)
    tails = _tails(batch, event_times).cast(pa.binary()).to_pylist()
    values = list(map(b"".join, zip(repeat(b'{"event_id":"'), ids, tails)))
    plain = batch[PLAIN]
    if not pc.all(plain).as_py():
        # Rows with a quote, backslash or control character: let the JSON library escape.
        columns = [batch[name] for name in RAW_COLUMNS]
        for index in np.flatnonzero(~plain.to_numpy(zero_copy_only=False)):
            fields = tuple(column[index].as_py() for column in columns)
            identifier = ids[index].decode()
            values[index] = encode(_event(fields, identifier, event_times[index].as_py()))
    return values


def event_ids(batch: pa.Table, generation: int = 0) -> list[bytes]:
    """`event_id()` of every row of `batch`, as ASCII bytes."""
    parts: list[Any] = [batch["transaction_id"], batch["line_no"]]
    if generation:
        parts.append(_text(str(generation)))
    keys = pc.binary_join_element_wise(*parts, _UNIT_SEPARATOR).cast(pa.binary()).to_pylist()
    return list(map(hexlify, map(_DIGEST, map(_BLAKE2B_128, keys))))


def shifted_times(batch: pa.Table, shift_s: int) -> pa.Array:
    """Each row's event time moved by `shift_s` seconds, as `datetime.isoformat()` writes it
    (local time in the row's own UTC offset)."""
    offset_us = batch[OFFSET_US].to_numpy()
    local_us = batch[EPOCH_US].to_numpy() + offset_us + shift_s * 1_000_000
    seconds, micro = np.divmod(local_us, 1_000_000)
    text = pa.array(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"))
    fraction: Any = _EMPTY
    if micro.any():
        fraction = pa.array(np.where(micro > 0, np.char.mod(".%06d", micro), ""))
    distinct, inverse = np.unique(offset_us, return_inverse=True)
    offsets = pa.array([_offset_text(int(offset)) for offset in distinct], pa.string())
    return pc.binary_join_element_wise(text, fraction, offsets.take(inverse), _EMPTY)


def _offset_text(offset_us: int) -> str:
    """A UTC offset as isoformat() writes it: `+05:30`, `-05:00`, `+00:00`, `+05:30:15`."""
    zone = dt.timezone(dt.timedelta(microseconds=offset_us))
    return dt.datetime(2000, 1, 1, tzinfo=zone).isoformat()[len("2000-01-01T00:00:00") :]


def _tails(batch: pa.Table, event_times: Any) -> pa.Array:
    """Everything after the event_id's hex digits, for every row (plain rows only are right)."""
    pieces: list[Any] = [
        '","event_time":"',
        event_times,
        f'","schema_version":{SCHEMA_VERSION},"transaction_id":',
    ]
    for name, before in (
        ("transaction_id", None),
        ("line_no", ',"line_no":'),
        ("timestamp", ',"timestamp":"'),
        ("store_id", '","store_id":'),
        ("product_id", ',"product_id":'),
        ("category", ',"category":'),
        ("quantity", ',"quantity":'),
        ("unit_price", ',"unit_price":'),
        ("discount_pct", ',"discount_pct":'),
        ("payment_method", ',"payment_method":'),
        ("customer_id", ',"customer_id":'),
    ):
        if before is not None:
            pieces.append(before)
        pieces.extend(_json_text(batch[name]) if name in _NULLABLE else [batch[name]])
    pieces.append("}")
    return pc.binary_join_element_wise(*_merge_literals(pieces), _EMPTY)


def _json_text(column: pa.ChunkedArray) -> list[Any]:
    """A text column as JSON pieces: `"text"`, or null where the text is empty."""
    empty = pc.equal(column, _EMPTY)
    if not pc.any(empty).as_py():
        return ['"', column, '"']
    quoted = pc.binary_join_element_wise(_QUOTE, column, _QUOTE, _EMPTY)
    return [pc.if_else(empty, _NULL, quoted)]


def _merge_literals(pieces: list[Any]) -> list[Any]:
    merged: list[Any] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return [_text(piece) if isinstance(piece, str) else piece for piece in merged]
