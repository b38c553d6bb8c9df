"""Date flags shared by the commands: `--date`, `--from`/`--to`, `--start-date`."""

from __future__ import annotations

import datetime as dt

from retailpipe.errors import ConfigError


def parse_date(flag: str, value: str | None) -> dt.date | None:
    """`value` of `flag` as a date (None stays None); a one-line error otherwise."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{flag} {value!r} is not a date", "write it as YYYY-MM-DD, e.g. 2026-01-05"
        ) from None


def date_range(
    date: str | None, first: str | None, last: str | None
) -> tuple[dt.date, dt.date] | None:
    """--date D, or --from D1 [--to D2], as an inclusive range; None means every file."""
    one = parse_date("--date", date)
    start, end = parse_date("--from", first), parse_date("--to", last)
    if one is not None:
        if start or end:
            raise ConfigError("--date cannot be combined with --from/--to", "use one or the other")
        return one, one
    if start is None and end is None:
        return None
    start = start or dt.date.min
    end = end or dt.date.max
    if start > end:
        raise ConfigError(f"--from {start} is after --to {end}", "swap the dates")
    return start, end
