"""The quality gate: a run that would quarantine too much of its input publishes nothing.

A foreign export read with the wrong settings (times without a UTC offset, other column
names) quarantines most of its rows. Publishing that would replace good figures with
nearly empty ones, so past `batch.max_invalid_fraction` the run publishes only its
quarantine, keeps the previous curated version, and fails with the top reasons and a fix.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from retailpipe.errors import InputError
from retailpipe.transforms.cleanse import NO_OFFSET

TOP_REASONS = 3
# What usually fixes a whole file's worth of each reason.
FIXES: dict[str, str] = {
    "bad_timestamp": "check the timestamp format (ISO 8601, docs/import.md)",
    "unknown_store": "add the stores to raw/stores.csv, or leave that file out",
    "unknown_product": "add the products to raw/products.csv, or leave that file out",
    "unmappable_file": "name the file's columns in batch.aliases (docs/import.md)",
    "missing_field": "name the file's columns in batch.aliases (docs/import.md)",
    "malformed_row": "check the file's delimiter and quoting (comma-separated, RFC 4180)",
}
NO_OFFSET_FIX = "set batch.timezone (--timezone Europe/London, or a timezone column in stores.csv)"


class Refused(InputError):
    """The quality gate refused to publish the run."""

    def __init__(self, message: str, fix: str, share: float, limit: float) -> None:
        super().__init__(message, fix)
        self.share, self.limit = share, limit

    def as_dict(self) -> dict[str, Any]:
        return {"invalid_fraction": round(self.share, 6), "max_invalid_fraction": self.limit}


def judge(checked: DataFrame, counts: dict[str, Any], limit: float) -> Refused | None:
    """None when the share of quarantined rows is within `limit`, else the refusal."""
    read, quarantined = counts["rows_read"], counts["quarantined"]
    share = quarantined / read if read else 0.0
    if share <= limit:
        return None
    reasons = sorted(counts["by_reason"].items(), key=lambda item: (-item[1], item[0]))
    top = reasons[:TOP_REASONS]
    named = ", ".join(f"{reason} {count:,}" for reason, count in top)
    fix = FIXES.get(top[0][0], "see the quarantine (retailpipe serve batch)")
    if top[0][0] == "bad_timestamp" and _without_offset(checked) * 2 > top[0][1]:
        named = named.replace("bad_timestamp", "bad_timestamp (no UTC offset)", 1)
        fix = NO_OFFSET_FIX
    return Refused(
        f"{share:.0%} of the {read:,} rows read were quarantined, more than "
        f"batch.max_invalid_fraction ({limit:.0%}); nothing was published but the quarantine "
        f"({named})",
        f"{fix}; or pass --allow-invalid to publish anyway",
        share,
        limit,
    )


def _without_offset(checked: DataFrame) -> int:
    """How many rows were quarantined for a timestamp without a UTC offset."""
    return checked.where(
        (F.col("reason") == "bad_timestamp") & F.col("detail").endswith(NO_OFFSET)
    ).count()
