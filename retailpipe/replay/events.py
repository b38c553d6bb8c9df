"""Raw rows -> Kafka JSON events (SPEC.md "Kafka event"; fields of schemas.EVENT_SCHEMA)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from retailpipe.schemas import SCHEMA_VERSION

try:  # orjson is several times faster; the standard library gives the same bytes' meaning
    import orjson

    _dumps: Callable[[Any], bytes] = orjson.dumps
except ImportError:  # pragma: no cover - orjson is a declared dependency
    import json

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


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
    (transaction_id, line_no, timestamp, store_id, product_id, category, quantity,
     unit_price, discount_pct, payment_method, customer_id) = fields
    number = int(line_no)
    return {
        "event_id": event_id(transaction_id, number, generation),
        "event_time": (when + shift).isoformat() if shift else iso_time or when.isoformat(),
        "schema_version": SCHEMA_VERSION,
        "transaction_id": transaction_id or None,
        "line_no": number,
        "timestamp": timestamp,
        "store_id": store_id or None,
        "product_id": product_id or None,
        "category": category or None,
        "quantity": int(quantity),
        "unit_price": unit_price or None,
        "discount_pct": discount_pct or None,
        "payment_method": payment_method or None,
        "customer_id": customer_id or None,
    }


def encode(value: dict[str, Any]) -> bytes:
    """The UTF-8 JSON bytes of an event."""
    return _dumps(value)
