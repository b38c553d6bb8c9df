"""The figures both paths produce for one store and one UTC hour, and the span compared."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)

# (store_id, start of the UTC hour)
Key = tuple[str, dt.datetime]


@dataclass(frozen=True)
class Figures:
    """Distinct receipts, units and net revenue of one store in one hour."""

    receipts: int = 0
    units: int = 0
    net_revenue: Decimal = Decimal("0.00")

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.receipts + other.receipts,
            self.units + other.units,
            self.net_revenue + other.net_revenue,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "receipts": self.receipts,
            "units": self.units,
            "net_revenue": str(self.net_revenue),
        }


ZERO = Figures()


@dataclass(frozen=True)
class Span:
    """UTC days `first` to `last` inclusive; None on either side: unbounded."""

    first: dt.date | None = None
    last: dt.date | None = None

    @property
    def start(self) -> dt.datetime | None:
        return None if self.first is None else day_start(self.first)

    @property
    def end(self) -> dt.datetime | None:
        """The first instant after the span."""
        return None if self.last is None else day_start(self.last) + dt.timedelta(days=1)

    def holds(self, moment: dt.datetime) -> bool:
        start, end = self.start, self.end
        return (start is None or moment >= start) and (end is None or moment < end)

    def holds_day(self, day: dt.date) -> bool:
        """Whether a UTC day overlaps the span."""
        return (self.first is None or day >= self.first) and (self.last is None or day <= self.last)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "from": None if self.first is None else self.first.isoformat(),
            "to": None if self.last is None else self.last.isoformat(),
        }


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_of(text: str | None) -> dt.datetime | None:
    """The UTC hour of an ISO 8601 timestamp with an offset (`Z` or a space for `T` too);
    None when it is not one."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return floor_hour(moment)


def iso_hour(hour: dt.datetime) -> str:
    """`2026-01-05T14:00Z`."""
    return f"{hour:%Y-%m-%dT%H:%M}Z"
