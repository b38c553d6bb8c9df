"""Run ids and timestamps shared by every command's run manifest (`runs/<job>-<run_id>.json`)."""

from __future__ import annotations

import datetime as dt
import secrets


def new_run_id(now: dt.datetime | None = None) -> str:
    """UTC `YYYYMMDDTHHMMSSZ-<6 hex>`: sorting run ids sorts them by start time."""
    moment = now or dt.datetime.now(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def utc_now() -> str:
    """Now, UTC, to the second: `2026-01-31T17:05:00Z`."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
