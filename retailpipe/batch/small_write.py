"""Writing small collected results (the aggregates) on the driver with pyarrow, for local roots.

Spark would spend a job per file on a few hundred rows; these files hold the same types
(DATE, int64, DECIMAL(18,2), strings) and the same CSV text Spark's writer produces.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import types as T

from retailpipe.fs import LOCAL, atomic_write, table_bytes


def arrow_schema(schema: T.StructType) -> pa.Schema:
    """The Arrow schema of a Spark schema of the simple types aggregates use."""
    return pa.schema([pa.field(f.name, _arrow_type(f.dataType), f.nullable) for f in schema])


def _arrow_type(spark_type: T.DataType) -> pa.DataType:
    if isinstance(spark_type, T.DecimalType):
        return pa.decimal128(spark_type.precision, spark_type.scale)
    simple: dict[type, pa.DataType] = {
        T.StringType: pa.string(),
        T.LongType: pa.int64(),
        T.IntegerType: pa.int32(),
        T.ShortType: pa.int16(),
        T.DoubleType: pa.float64(),
        T.BooleanType: pa.bool_(),
        T.DateType: pa.date32(),
    }
    if type(spark_type) not in simple:
        raise TypeError(f"no Arrow type for {spark_type}")
    return simple[type(spark_type)]


def write_parquet(rows: list[Any], schema: T.StructType, folder: Path, file_name: str) -> None:
    """One Parquet file (snappy) in `folder`, rows in the given order."""
    arrow = arrow_schema(schema)
    columns = {name: [row[i] for row in rows] for i, name in enumerate(schema.names)}
    table = pa.Table.from_pydict(columns, schema=arrow)
    atomic_write(LOCAL, folder / file_name, table_bytes(table))


def _csv_text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return value


def write_csv(rows: list[Any], schema: T.StructType, path: Path) -> None:
    """One CSV file with a header, as Spark's CSV writer formats it (NULL -> empty field)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n", escapechar="\\", doublequote=False)
    writer.writerow(schema.names)
    for row in rows:
        writer.writerow([_csv_text(v) for v in row])
    atomic_write(LOCAL, path, text.getvalue().encode("utf-8"))
