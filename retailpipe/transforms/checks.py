"""Validation checks, one shape for batch and stream: (reason code, failed, detail).

A list of checks becomes one column: the (reason, detail) struct of the first check a row
fails, NULL for a valid row. One CASE chain for both fields, so each condition is
evaluated once and the detail text is only built for a failing row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pyspark.sql import Column
from pyspark.sql import functions as F


class Check(NamedTuple):
    """A rule rows must pass: its reason code, when a row fails it, and what to tell."""

    reason: str
    failed: Column
    detail: Column


def first_failed(checks: Sequence[Check]) -> Column:
    """struct(reason, detail) of the first check a row fails, in list order; NULL if none."""

    def failure(check: Check) -> Column:
        return F.struct(F.lit(check.reason).alias("reason"), check.detail.alias("detail"))

    first, *rest = checks
    value = F.when(first.failed, failure(first))
    for check in rest:
        value = value.when(check.failed, failure(check))
    return value
