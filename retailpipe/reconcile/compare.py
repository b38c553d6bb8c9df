"""Compare the two sides hour by hour and say why each difference is there."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from retailpipe.reconcile.batch_side import BatchSide
from retailpipe.reconcile.model import HOUR, ZERO, Figures, Key, iso_hour
from retailpipe.reconcile.stream_side import StreamSide

# Why a store's hour can differ, in the order they are named.
REASONS: tuple[str, ...] = ("late", "dead_letter", "quarantined")


@dataclass(frozen=True)
class Difference:
    """One store's hour where the paths disagree."""

    store_id: str
    hour: dt.datetime
    batch: Figures
    stream: Figures
    # Rows each path set aside in this hour, by reason; the reasons with any explain it.
    set_aside: dict[str, int]

    @property
    def reasons(self) -> list[str]:
        return [reason for reason in REASONS if self.set_aside.get(reason)]

    @property
    def explained(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "hour": iso_hour(self.hour),
            "status": "explained" if self.explained else "unexplained",
            "reasons": self.reasons,
            "batch": self.batch.as_dict(),
            "stream": self.stream.as_dict(),
            "net_revenue_difference": str(self.batch.net_revenue - self.stream.net_revenue),
            "set_aside": self.set_aside,
        }


@dataclass
class Day:
    """One UTC day's tally."""

    compared: int = 0
    agree: int = 0
    explained: int = 0
    unexplained: int = 0
    batch: Figures = ZERO
    stream: Figures = ZERO

    def as_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "agree": self.agree,
            "explained": self.explained,
            "unexplained": self.unexplained,
            "batch": self.batch.as_dict(),
            "stream": self.stream.as_dict(),
        }


@dataclass
class Comparison:
    """Every store-hour covered by both paths, tallied per UTC day."""

    days: dict[dt.date, Day] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    # Rows set aside in the compared hours, by reason (the late count is events).
    set_aside: Counter[str] = field(default_factory=Counter)

    def total(self, name: str) -> int:
        return sum(getattr(day, name) for day in self.days.values())

    @property
    def unexplained(self) -> list[Difference]:
        return [diff for diff in self.differences if not diff.explained]

    def explained_by(self) -> dict[str, int]:
        """How many differing hours each reason explains (an hour may have several)."""
        counts = Counter(reason for diff in self.differences for reason in diff.reasons)
        return {reason: counts[reason] for reason in REASONS}

    def worst(self, limit: int) -> list[Difference]:
        """Unexplained first, then by the size of the revenue difference."""
        return sorted(
            self.differences,
            key=lambda d: (d.explained, -abs(d.batch.net_revenue - d.stream.net_revenue)),
        )[:limit]


def covered(key: Key, batch: BatchSide, stream: StreamSide) -> bool:
    """Whether both paths have all of this store's hour: inside the batch's hours, after
    the stream's first event, and final in the stream (its window ended at or before the
    store's watermark, so no on-time event can still change it)."""
    store_id, hour = key
    if batch.first_hour is None or batch.last_hour is None or stream.first_hour is None:
        return False
    if not batch.first_hour <= hour <= batch.last_hour or hour < stream.first_hour:
        return False
    final = stream.final_until(store_id)
    return final is not None and hour + HOUR <= final


def compare(batch: BatchSide, stream: StreamSide, quarantined: Counter[Key]) -> Comparison:
    """Every store-hour either path has figures or set-aside rows for, where both cover it."""
    result = Comparison()
    keys = (
        batch.figures.keys()
        | stream.figures.keys()
        | stream.late.keys()
        | stream.dead_letters.keys()
        | quarantined.keys()
    )
    for key in sorted(keys):
        if not covered(key, batch, stream):
            continue
        ours, theirs = batch.figures.get(key, ZERO), stream.figures.get(key, ZERO)
        set_aside = {
            "late": stream.late.get(key, 0),
            "dead_letter": stream.dead_letters.get(key, 0),
            "quarantined": quarantined.get(key, 0),
        }
        result.set_aside.update(set_aside)
        day = result.days.setdefault(key[1].date(), Day())
        day.compared += 1
        day.batch += ours
        day.stream += theirs
        if ours == theirs:
            day.agree += 1
            continue
        diff = Difference(key[0], key[1], ours, theirs, set_aside)
        result.differences.append(diff)
        if diff.explained:
            day.explained += 1
        else:
            day.unexplained += 1
    return result
