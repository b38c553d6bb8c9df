"""Extract: find the raw files, map each file's header onto the canonical columns, read records.

Files are read whole (`binaryFile`), decoded (UTF-8, or Latin-1 when a file is not valid
UTF-8), split into records and numbered here, so every row keeps its original text, file
and physical line number. Files without a double quote are split on line ends; files with
quotes are split with an RFC 4180 record pattern, so quoted line breaks stay in their field.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import glob
import logging
import mmap
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from retailpipe.errors import InputError
from retailpipe.fs import FileInfo, HadoopFiles
from retailpipe.schemas import RAW_COLUMNS, normalise_name
from retailpipe.storage import Storage, parse_raw_date

log = logging.getLogger(__name__)

# Canonical columns a file must map: price or amount is checked separately.
MAPPING_REQUIRED: tuple[str, ...] = (
    "timestamp",
    "store_id",
    "product_id",
    "quantity",
    "payment_method",
)
CANONICAL: tuple[str, ...] = (*RAW_COLUMNS, "amount")
# One record: quoted fields (with "" escapes and line breaks) or unquoted text, up to a line end.
# Possessive quantifiers keep Java's regex engine linear and its stack shallow.
RECORD_PATTERN = r'((?:[^"\n]++|"(?:[^"]++|"")*+")*+)(?:\n|$)'
CORRUPT = "_corrupt"
# monotonically_increasing_id() = partition index << 33 | row index within the partition.
PARTITION_ROW_MASK = (1 << 33) - 1
# Spark packs and splits files by these sizes; this large, every file is one partition.
ONE_PARTITION_PER_FILE = {
    "spark.sql.files.maxPartitionBytes": str(1 << 40),
    "spark.sql.files.openCostInBytes": str(1 << 40),
}


@dataclass(frozen=True)
class InputFile:
    uri: str
    name: str
    size: int
    day: dt.date | None


@dataclass
class FileMapping:
    """How one header maps onto the canonical columns (canonical -> header position)."""

    header: tuple[str, ...]
    columns: dict[str, int] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    @property
    def mappable(self) -> bool:
        return not self.missing


def map_header(header: list[str], aliases: dict[str, list[str]]) -> FileMapping:
    """Match header names to canonical columns by name or alias; report what is missing."""
    names = [normalise_name(name) for name in header]
    mapping = FileMapping(header=tuple(names))
    for canonical in CANONICAL:
        candidates = [canonical, *(normalise_name(a) for a in aliases.get(canonical, []))]
        for candidate in candidates:
            if candidate in names and names.index(candidate) not in mapping.columns.values():
                mapping.columns[canonical] = names.index(candidate)
                break
    missing = [c for c in MAPPING_REQUIRED if c not in mapping.columns]
    if "unit_price" not in mapping.columns and "amount" not in mapping.columns:
        missing.append("unit_price (or amount)")
    mapping.missing = tuple(missing)
    return mapping


def find_inputs(
    fs: HadoopFiles,
    storage: Storage,
    input_uri: str | None,
    dates: tuple[dt.date, dt.date] | None,
) -> list[InputFile]:
    """The raw files of the run: every `transactions_*.csv` (or --input), within the dates."""
    if input_uri:
        infos = fs.glob(input_uri)
        if len(infos) == 1 and infos[0].is_dir:
            infos = fs.glob(infos[0].uri.rstrip("/") + "/*.csv")
        where = input_uri
    else:
        infos = fs.glob(storage.uri("raw", "transactions_*.csv"))
        where = storage.uri("raw")
    files = [_input_file(i) for i in infos if not i.is_dir and _picked(i.name, dates)]
    if not files:
        span = (
            ""
            if dates is None
            else (f" for {dates[0]}" if dates[0] == dates[1] else f" from {dates[0]} to {dates[1]}")
        )
        raise InputError(
            f"no raw transaction files{span} under {where}",
            "run `retailpipe generate`, pick dates that have files, or pass --input",
        )
    return files


def _picked(name: str, dates: tuple[dt.date, dt.date] | None) -> bool:
    """Whether a run reads the raw file `name`: not hidden or temporary (`_`, `.`), and
    within `dates` when given."""
    if name.startswith(("_", ".")):
        return False
    if dates is None:
        return True
    day = parse_raw_date(name)
    return day is not None and dates[0] <= day <= dates[1]


def local_input_bytes(
    storage: Storage, input_uri: str | None, dates: tuple[dt.date, dt.date] | None
) -> int | None:
    """The size of the files `find_inputs` will pick, found without Spark; None when that
    cannot be told here (files not on this machine, a pattern Python's glob would read
    differently from Hadoop's, nothing found, a file that cannot be read). It decides how
    the JVM starts (`spark.jit_options`), where None keeps the default."""
    try:
        paths = _local_paths(storage, input_uri)
        files = [p for p in paths or [] if p.is_file() and _picked(p.name, dates)]
        return sum(p.stat().st_size for p in files) if files else None
    except OSError:
        return None


def _local_paths(storage: Storage, input_uri: str | None) -> list[Path] | None:
    if not input_uri:
        return list(storage.path("raw").glob("transactions_*.csv")) if storage.is_local else None
    if input_uri.startswith("file://"):
        pattern = input_uri.removeprefix("file://")
    elif input_uri.startswith("file:"):
        pattern = input_uri.removeprefix("file:")
    elif "://" in input_uri or not storage.is_local:  # another file system, or the root's
        return None
    else:
        pattern = input_uri
    if "{" in pattern or "[^" in pattern:  # Hadoop glob syntax
        return None
    paths = [Path(p) for p in glob.glob(pattern)]
    if len(paths) == 1 and paths[0].is_dir():
        paths = list(paths[0].glob("*.csv"))
    return paths


def _input_file(info: FileInfo) -> InputFile:
    return InputFile(uri=info.uri, name=info.name, size=info.size, day=parse_raw_date(info.name))


@dataclass(frozen=True)
class Scan:
    """What a driver-side byte scan learnt about a file."""

    quoted: bool
    utf8: bool


def scan(file: InputFile, storage: Storage) -> Scan:
    """Whether a file contains a double quote (then it may hold quoted line breaks) and
    whether it is valid UTF-8 (then no per-line check is needed).

    A fast byte scan for local files; files on HDFS are assumed quoted and maybe not UTF-8,
    which is always correct, only slower.
    """
    if not storage.is_local or not file.uri.startswith("file:"):
        return Scan(quoted=True, utf8=False)
    path = Path(unquote(urlparse(file.uri).path))
    if file.size == 0:
        return Scan(quoted=False, utf8=True)
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return Scan(quoted=data.find(b'"') >= 0, utf8=_valid_utf8(data))


def _valid_utf8(data: mmap.mmap, chunk: int = 1 << 24) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), chunk):
            decoder.decode(data[start : start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def has_quote(file: InputFile, storage: Storage) -> bool:
    """Whether a file contains a double quote (see `scan`)."""
    return scan(file, storage).quoted


def read_header(fs: HadoopFiles, file: InputFile) -> list[str] | None:
    """The header fields of a file (None for an empty file)."""
    line = fs.first_line(file.uri)
    if line is None or not line.strip():
        return None
    return next(csv.reader([line.replace("\ufeff", "")]))


def read_records(
    spark: SparkSession, uris: list[str], scans: dict[str, Scan]
) -> list[tuple[DataFrame, bool]]:
    """One row per non-blank record after the header, as (records, quoted) frames.

    Columns: source_uri, source_file, line_number (physical, header = 1), record.
    Files without a double quote are read line by line (`quoted` False: no record holds a
    quote, so fields are split on commas); the others whole, so quoted line breaks stay
    inside their record.
    """
    plain_utf8 = [u for u in uris if not scans[u].quoted and scans[u].utf8]
    plain_other = [u for u in uris if not scans[u].quoted and not scans[u].utf8]
    quoted = [u for u in uris if scans[u].quoted]
    frames: list[tuple[DataFrame, bool]] = []
    if plain_utf8:
        frames.append((_read_lines(spark, plain_utf8, known_utf8=True), False))
    if plain_other:
        frames.append((_read_lines(spark, plain_other, known_utf8=False), False))
    if quoted:
        frames.append((_read_whole(spark, quoted), True))
    return [
        (
            records.where(F.trim(F.col("record")) != "").select(
                "source_uri",
                F.element_at(F.split(F.col("source_uri"), "/"), -1).alias("source_file"),
                "line_number",
                "record",
            ),
            is_quoted,
        )
        for records, is_quoted in frames
    ]


def _utf8_or_latin1(value: Column) -> Column:
    """Text that is not valid UTF-8 is taken as Latin-1 instead of being mangled."""
    return F.when(F.is_valid_utf8(value), value).otherwise(
        F.decode(value.cast("binary"), "ISO-8859-1")
    )


def _read_lines(spark: SparkSession, uris: list[str], known_utf8: bool) -> DataFrame:
    """Streams lines. Each file is exactly one Spark partition (see `one_partition_per_file`),
    so the row's index within its partition is its line index in the file. `known_utf8`:
    every file was checked valid UTF-8, so no line needs the Latin-1 fallback."""
    index = F.monotonically_increasing_id().bitwiseAND(F.lit(PARTITION_ROW_MASK))
    value = F.col("value")
    lines = spark.read.text(uris).select(
        F.input_file_name().alias("source_uri"),
        (index + 1).alias("line_number"),
        (value if known_utf8 else _utf8_or_latin1(value)).alias("record"),
    )
    return lines.where(F.col("line_number") > 1)


def _read_whole(spark: SparkSession, uris: list[str]) -> DataFrame:
    """Reads files whole and splits them into RFC 4180 records, each step its own
    projection so that Spark decodes and splits every file once."""
    content = F.col("content")
    decoded = F.when(F.is_valid_utf8(content), content.cast("string")).otherwise(
        F.decode(content, "ISO-8859-1")
    )
    text = F.col("text")
    no_bom = F.when(F.startswith(text, F.lit("\ufeff")), F.substring(text, 2, 1 << 30))
    unix = F.when(F.instr(text, "\r") > 0, F.regexp_replace(text, "\r\n?", "\n"))
    records = F.regexp_extract_all(text, F.lit(RECORD_PATTERN), 1)
    # (index, extra line breaks) of every record that spans lines.
    spans = F.filter(
        F.transform(
            F.col("records"), lambda rec, i: F.struct(i.alias("i"), _line_breaks(rec).alias("n"))
        ),
        lambda span: span["n"] > 0,
    )
    files = (
        spark.read.format("binaryFile")
        .load(uris)
        .select(F.col("path").alias("source_uri"), decoded.alias("text"))
        .select("source_uri", no_bom.otherwise(text).alias("text"))
        .select("source_uri", unix.otherwise(text).alias("text"))
        .select("source_uri", records.alias("records"))
        .select("source_uri", "records", spans.alias("spans"))
    )
    # posexplode_outer: the plain generator makes Spark infer a filter that re-splits files.
    exploded = files.select(
        "source_uri", "spans", F.posexplode_outer("records").alias("pos", "record")
    )
    return exploded.where(F.col("pos") > 0).select(
        "source_uri", line_number(F.col("pos"), F.col("spans")).alias("line_number"), "record"
    )


def _line_breaks(text: Column) -> Column:
    return F.length(text) - F.length(F.replace(text, F.lit("\n"), F.lit("")))


def line_number(pos: Column, spans: Column) -> Column:
    """Physical line of record `pos`: its index plus line breaks inside earlier records."""
    earlier = F.filter(spans, lambda s: s["i"] < pos)
    extra = F.aggregate(earlier, F.lit(0), lambda acc, s: acc + s["n"])
    return (pos + 1 + extra).cast("long")


def parse_fields(records: DataFrame, mapping: FileMapping, quoted: bool = True) -> DataFrame:
    """Split records into the file's fields and name them canonically (strings, or NULL).

    `quoted` False: no record holds a double quote, so a plain split on commas gives the
    fields `from_csv` would (a row is malformed when the count differs from the header).
    """
    width = len(mapping.header)
    if quoted:
        schema = T.StructType(
            [T.StructField(f"_c{i}", T.StringType()) for i in range(width)]
            + [T.StructField(CORRUPT, T.StringType())]
        )
        options = {"escape": '"', "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
        parsed = records.withColumn(
            "_f", F.from_csv(F.col("record"), schema.simpleString(), options)
        )

        def field(i: int) -> Column:
            return F.col(f"_f._c{i}")

        malformed = F.col(f"_f.{CORRUPT}").isNotNull()
    else:
        parsed = records.withColumn("_f", F.split(F.col("record"), ",", -1))

        def field(i: int) -> Column:
            return F.nullif(F.get(F.col("_f"), i), F.lit(""))

        malformed = F.size(F.col("_f")) != width
    canonical = [
        (field(mapping.columns[name]) if name in mapping.columns else F.lit(None))
        .cast("string")
        .alias(name)
        for name in CANONICAL
    ]
    return parsed.select(
        "source_uri",
        "source_file",
        "line_number",
        F.col("record").alias("raw_line"),
        malformed.alias("malformed"),
        F.lit("transaction_id" not in mapping.columns).alias("derived_id"),
        F.lit("unit_price" not in mapping.columns).alias("amount_only"),
        F.lit("line_no" in mapping.columns).alias("has_line_no"),
        *canonical,
        F.lit(None).cast("string").alias("unmappable"),
    )


def unmappable_rows(records: DataFrame, missing: tuple[str, ...]) -> DataFrame:
    """Every record of a file that cannot be mapped, in the shape parse_fields returns."""
    return records.select(
        "source_uri",
        "source_file",
        "line_number",
        F.col("record").alias("raw_line"),
        F.lit(False).alias("malformed"),
        F.lit(False).alias("derived_id"),
        F.lit(False).alias("amount_only"),
        F.lit(False).alias("has_line_no"),
        *(F.lit(None).cast("string").alias(name) for name in CANONICAL),
    ).withColumn("unmappable", F.lit("missing columns: " + ", ".join(missing)))
