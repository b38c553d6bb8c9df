"""Exact repeats of a line key: which valid lines repeat an earlier one, found without
sorting every line.

A key is (sale_date, transaction_id, line_no). The first copy, by (source_file,
source_line), is kept; every later copy is a duplicate. Keys are counted with a hash
aggregate (no sort); only the lines of keys seen more than once, normally a handful, are
ranked with a window.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

KEY: tuple[str, ...] = ("sale_date", "transaction_id", "line_no")
LOCATION: tuple[str, ...] = ("source_file", "source_line")


def repeated_keys(lines: DataFrame) -> DataFrame:
    """The keys (KEY columns) that more than one line carries. `lines`: valid lines with KEY
    columns, none NULL.

    When `lines` are hash-partitioned by (sale_date, transaction_id), as the batch job's
    are, this hash aggregate needs no shuffle.
    """
    return lines.groupBy(*KEY).count().where(F.col("count") > 1).select(*KEY)


def repeated_lines(lines: DataFrame, keys: DataFrame) -> DataFrame:
    """(source_file, source_line, sale_date) of every line that repeats the key of an earlier
    line. `keys`: `repeated_keys(lines)`, broadcast by the caller when small.
    """
    candidates = lines.select(*KEY, *LOCATION).join(keys, list(KEY), "left_semi")
    order = Window.partitionBy(*KEY).orderBy(*LOCATION)
    return (
        candidates.withColumn("copy", F.row_number().over(order))
        .where(F.col("copy") > 1)
        .select(*LOCATION, "sale_date")
    )
