"""The run's inputs as DataFrames: the raw rows of its files, and the dimension tables."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from retailpipe.batch import extract
from retailpipe.batch.run import BatchRun
from retailpipe.errors import InputError
from retailpipe.schemas import PRODUCT_HEADERS, STORE_HEADERS, normalise_name
from retailpipe.settings import require_zones
from retailpipe.storage import Storage

log = logging.getLogger(__name__)


def read_rows(
    run: BatchRun, files: list[extract.InputFile]
) -> tuple[DataFrame, list[dict[str, Any]]]:
    """The rows of `files` and the files rejected whole. Files are grouped by header so each
    group is parsed with one schema; the rows of unmappable files are kept for the
    quarantine."""
    groups: dict[tuple[str, ...], tuple[extract.FileMapping, list[str]]] = {}
    rejected: list[dict[str, Any]] = []
    for file in files:
        header = extract.read_header(run.files, file)
        if header is None:
            rejected.append({"file": file.name, "reason": "empty file", "missing_columns": []})
            continue
        mapping = extract.map_header(header, run.settings.batch.aliases)
        if not mapping.mappable:
            rejected.append(
                {
                    "file": file.name,
                    "reason": "unmappable_file: missing columns " + ", ".join(mapping.missing),
                    "missing_columns": list(mapping.missing),
                }
            )
            log.warning("%s cannot be mapped: missing %s", file.name, ", ".join(mapping.missing))
        groups.setdefault(mapping.header, (mapping, []))[1].append(file.uri)
    scans = {f.uri: extract.scan(f, run.storage) for f in files}
    frames = []
    for mapping, uris in groups.values():
        for records, quoted in extract.read_records(run.spark, uris, scans):
            if mapping.mappable:
                frames.append(extract.parse_fields(records, mapping, quoted))
            else:
                frames.append(extract.unmappable_rows(records, mapping.missing))
    if not frames:  # only empty files
        empty = run.spark.createDataFrame(
            [], "source_uri string, source_file string, line_number long, record string"
        )
        frames.append(extract.parse_fields(empty, extract.map_header(list(extract.CANONICAL), {})))
    return reduce(DataFrame.unionByName, frames), rejected


@dataclass(frozen=True)
class Dimensions:
    """The stores and products tables (one row per id), or None for a file that is absent:
    then every id in the data is known and named by itself."""

    stores: DataFrame | None
    products: DataFrame | None

    def describe(self, storage: Storage) -> dict[str, str]:
        """Where each table came from, for the run manifest and the summary."""
        return {
            name: storage.uri(name) if table is not None else "none: ids taken from the data"
            for name, table in (("stores", self.stores), ("products", self.products))
        }


def read_dimensions(run: BatchRun) -> Dimensions:
    """`raw/stores.csv` and `raw/products.csv`, each optional, columns matched by name."""
    stores = _read_table(run, "stores", STORE_HEADERS)
    if stores is not None:
        _check_zones(run, stores)
    return Dimensions(stores, _read_table(run, "products", PRODUCT_HEADERS))


def _read_table(run: BatchRun, name: str, headers: dict[str, tuple[str, ...]]) -> DataFrame | None:
    uri = run.storage.uri(name)
    if not run.files.exists(uri):
        log.info("no %s: every id in the data counts as known", uri)
        return None
    header = extract.read_header(run.files, extract.InputFile(uri, name, 0, None)) or []
    names = [normalise_name(column) for column in header]
    key, *others = headers
    positions = {
        column: next((names.index(c) for c in accepted if c in names), None)
        for column, accepted in headers.items()
    }
    if positions[key] is None:
        raise InputError(
            f"{uri} has no {headers[key][0]} column (its header: {', '.join(header) or 'empty'})",
            f"give the file a header row with {headers[key][0]} first; docs/import.md lists "
            "the columns",
        )
    raw = run.spark.read.csv(uri, header=True, escape='"')  # every column a string
    fields = raw.columns

    def column(name: str) -> Column:
        position = positions[name]
        return F.col(f"`{fields[position]}`") if position is not None else F.lit(None)

    return (
        raw.select(
            F.trim(column(key)).alias(key),
            *(column(name).cast("string").alias(name) for name in others),
        )
        .where(F.col(key).isNotNull() & (F.col(key) != ""))
        .dropDuplicates([key])
    )


def _check_zones(run: BatchRun, stores: DataFrame) -> None:
    """Every time zone named in stores.csv must be a real one (Spark would fail later)."""
    zones = [r[0] for r in stores.select(F.trim("store_tz")).distinct().collect() if r[0]]
    require_zones(zones, run.storage.uri("stores"))
