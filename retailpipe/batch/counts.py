"""Counting a run's rows by file, outcome and sale date, and telling duplicates apart.

The counts are `(file, status, sale_date, rows)` tuples, where status is `valid`,
`duplicate` or a quarantine reason; the run manifest's `inputs` and `counts` come from them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retailpipe.batch.extract import InputFile
from retailpipe.batch.run import BatchRun
from retailpipe.transforms.duplicates import LOCATION, repeated_keys, repeated_lines

VALID, DUPLICATE = "valid", "duplicate"
# Up to this many repeated keys or lines are broadcast; more (a run that reads whole files
# twice) are joined by a shuffle instead, which is slower but needs no driver memory.
BROADCAST_ROWS = 1_000_000

Count = tuple[str, str, str | None, int]


def count_rows(checked: DataFrame) -> list[Count]:
    """Rows by file, status and sale date, before duplicates are told apart from valid
    lines: one pass that fills the cache."""
    status = F.coalesce(F.col("reason"), F.lit(VALID)).alias("status")
    rows = checked.groupBy("source_file", status, "sale_date").count().collect()
    return [(r["source_file"], r["status"], _day(r["sale_date"]), int(r["count"])) for r in rows]


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def drop_repeats(run: BatchRun, checked: DataFrame) -> tuple[DataFrame, list[Count]]:
    """The valid lines without exact repeats of a key, and the counts with each file's
    repeated lines moved from `valid` to `duplicate`.

    Keys are counted with a hash aggregate within the cached partitions; only the few lines
    of repeated keys are ranked, then left out by a broadcast anti-join, which keeps the
    lines' partitioning for the aggregates.
    """
    counts = count_rows(checked)
    valid = checked.where(F.col("reason").isNull())
    keys = run.keep(repeated_keys(valid))
    key_count = keys.count()
    if key_count == 0:
        return valid, counts
    repeats = run.keep(repeated_lines(valid, _broadcast_if_small(keys, key_count)))
    counted = repeats.groupBy("source_file", "sale_date").count().collect()
    per_file = [(r["source_file"], _day(r["sale_date"]), int(r["count"])) for r in counted]
    locations = _broadcast_if_small(repeats.select(*LOCATION), sum(n for *_, n in per_file))
    return valid.join(locations, list(LOCATION), "left_anti"), _move_repeats(counts, per_file)


def _broadcast_if_small(df: DataFrame, rows: int) -> DataFrame:
    return F.broadcast(df) if rows <= BROADCAST_ROWS else df


def _move_repeats(counts: list[Count], repeats: list[tuple[str, str | None, int]]) -> list[Count]:
    by_key = {(file, status, day): n for file, status, day, n in counts}
    for file, day, n in repeats:
        by_key[(file, VALID, day)] -= n
        by_key[(file, DUPLICATE, day)] = by_key.get((file, DUPLICATE, day), 0) + n
    return [(file, status, day, n) for (file, status, day), n in by_key.items() if n > 0]


def valid_days(counts: list[Count]) -> set[str]:
    """The sale dates that have valid lines."""
    return {day for _file, status, day, _n in counts if status == VALID and day}


def inputs_summary(files: list[InputFile], counts: list[Count]) -> list[dict[str, Any]]:
    """The manifest's `inputs`: each file with its number of rows."""
    rows: dict[str, int] = {f.name: 0 for f in files}
    for name, _status, _date, count in counts:
        rows[name] = rows.get(name, 0) + count
    return [{"file": f.uri, "rows": rows[f.name]} for f in files]


def counts_summary(counts: list[Count]) -> dict[str, Any]:
    """The manifest's `counts`: rows read, valid, quarantined (by reason), duplicates."""
    by_status: dict[str, int] = {}
    for _file, status, _date, count in counts:
        by_status[status] = by_status.get(status, 0) + count
    by_reason = {k: v for k, v in sorted(by_status.items()) if k not in (VALID, DUPLICATE)}
    return {
        "rows_read": sum(by_status.values()),
        "valid": by_status.get(VALID, 0),
        "quarantined": sum(by_reason.values()),
        "duplicates": by_status.get(DUPLICATE, 0),
        "by_reason": by_reason,
    }


def net_revenue(lines: DataFrame) -> str:
    """The net revenue of the valid lines, as exact decimal text."""
    total = lines.agg(F.sum("net_amount")).first()
    return format(total[0] if total and total[0] is not None else Decimal("0.00"), "f")
