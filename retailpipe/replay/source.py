"""The rows one replay sends: the selected raw files, read one at a time into sorted runs
on disk, and merged by event time when sent (`runs.py`); plus the rows that were skipped.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from retailpipe.errors import InputError
from retailpipe.progress import progress
from retailpipe.replay.parse import EPOCH_US, FILE, ISO, LINE, OFFSET_US, Skipped, read_file
from retailpipe.replay.runs import SortedRun, merge, write_run
from retailpipe.schemas import RAW_COLUMNS, STORE_HEADERS, normalise_name
from retailpipe.settings import Settings, require_zones
from retailpipe.storage import Storage, parse_raw_date

log = logging.getLogger(__name__)

_MICROSECOND = dt.timedelta(microseconds=1)

__all__ = ["Row", "Skipped", "Source", "event_time", "read_source", "select_files"]


def event_time(epoch_us: int, offset_us: int, shift_s: int = 0) -> dt.datetime:
    """An event time (UTC microseconds, moved by `shift_s` seconds) in its own UTC offset."""
    local_us = epoch_us + offset_us + shift_s * 1_000_000
    # Local time first: the UTC instant of e.g. 0001-01-01T00:30+05:00 is before year 1.
    local = dt.datetime(1970, 1, 1) + local_us * _MICROSECOND
    return local.replace(tzinfo=dt.timezone(offset_us * _MICROSECOND))


@dataclass(frozen=True, slots=True)
class Row:
    """One sendable raw row, for tests and inspection (the send loop works on tables)."""

    epoch: float
    event_time: dt.datetime
    iso_time: str  # event_time in ISO 8601 (the CSV text when it already is that form)
    file: str
    line_number: int
    fields: tuple[str, ...]  # in RAW_COLUMNS order


class Source:
    """Everything one replay reads: the sorted runs of the selected files, and the rows
    skipped. `batches()` yields the rows in send order (columns of `parse.ROW_SCHEMA`), as
    often as asked (each `--loop` pass merges the runs again). Close it (or use it as a
    context manager) to delete the runs."""

    def __init__(
        self,
        files: list[Path],
        runs: list[SortedRun],
        skipped: list[Skipped],
        folder: tempfile.TemporaryDirectory[str],
    ) -> None:
        self.files, self.runs, self.skipped, self._folder = files, runs, skipped, folder
        self._count = sum(run.rows for run in runs)

    def __len__(self) -> int:
        return self._count

    @property
    def first_epoch(self) -> float:
        """The earliest event time, UTC epoch seconds (the first event sent)."""
        return min(run.first_us for run in self.runs) / 1e6

    @property
    def last_epoch(self) -> float:
        """The latest event time, UTC epoch seconds (the last event sent)."""
        return max(run.last_us for run in self.runs) / 1e6

    def batches(self) -> Generator[pa.Table]:
        """Every row, in send order: event time, ties by file, then line."""
        return merge(self.runs)

    @property
    def rows(self) -> list[Row]:
        """The rows as objects, in send order: for tests and inspection."""
        names = [path.name for path in self.files]
        rows = []
        for table in self.batches():
            columns = (*RAW_COLUMNS, FILE, LINE, ISO, EPOCH_US, OFFSET_US)
            for values in zip(*(table[name].to_pylist() for name in columns), strict=True):
                *fields, file, line, iso, epoch_us, offset_us = values
                rows.append(
                    Row(
                        epoch_us / 1e6,
                        event_time(epoch_us, offset_us),
                        iso,
                        names[file],
                        line,
                        tuple(fields),
                    )
                )
        return rows

    def close(self) -> None:
        self._folder.cleanup()

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def stage_hdfs_raw(settings: Settings, storage: Storage) -> Storage:
    """Copy the raw daily files from an hdfs:// storage root to a local staging root.

    Replay reads files with pyarrow, which has no HDFS client here; Hadoop's own shell
    copies them (once per replay run) under the runtime folder.
    """
    from retailpipe.infra.hdfs import fs_shell

    staging = Path(settings.runtime_dir).resolve() / "replay-staging"
    raw = staging / "raw"
    if raw.exists():
        shutil.rmtree(raw)
    raw.mkdir(parents=True)
    log.info("copying raw files from %s to %s", storage.uri("raw"), raw)
    # The day files, and stores.csv for the stores' time zones when there is one.
    fs_shell(settings, "-get", storage.uri("raw", "{transactions_*.csv,stores.csv}"), str(raw))
    return Storage(str(staging))


def select_files(
    storage: Storage, date: dt.date | None, start: dt.date | None, end: dt.date | None
) -> list[Path]:
    """The raw daily files for one date, a date range (inclusive) or all of them, by date."""
    raw = storage.path("raw")
    if not raw.is_dir():
        raise InputError(
            f"no raw folder at {raw}",
            "run `retailpipe generate` first or point --root/storage.root at your data",
        )
    dated = sorted(
        (day, path)
        for path in raw.glob("transactions_*.csv")
        if (day := parse_raw_date(path.name)) is not None
    )
    if date is not None:
        start = end = date
    chosen = [
        path
        for day, path in dated
        if (start is None or day >= start) and (end is None or day <= end)
    ]
    if not chosen:
        wanted = "" if start is None and end is None else f" for {_describe(start, end)}"
        raise InputError(
            f"no raw transaction files{wanted} in {raw}",
            "run `retailpipe generate` or pick dates that exist (`ls` the raw folder)",
        )
    return chosen


def _describe(start: dt.date | None, end: dt.date | None) -> str:
    if start == end:
        return str(start)
    return f"{start or 'the first day'} to {end or 'the last day'}"


def store_zones(raw: Path) -> dict[str, str]:
    """The time zone of each store that `raw/stores.csv` gives one (its `timezone` column,
    matched by name as the batch job matches it); empty without the file or the column."""
    path = raw / "stores.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        names = [normalise_name(name) for name in next(reader, [])]
        key, zone = (
            next((names.index(n) for n in STORE_HEADERS[column] if n in names), None)
            for column in ("store_id_d", "store_tz")
        )
        if key is None or zone is None:
            return {}
        zones = {
            row[key].strip(): row[zone].strip()
            for row in reader
            if len(row) > max(key, zone) and row[key].strip() and row[zone].strip()
        }
    require_zones(zones.values(), str(path))
    return zones


def read_source(
    files: list[Path], spill_dir: Path | None = None, timezone: str | None = None
) -> Source:
    """Parse every row of `files`, one file at a time, into sorted runs under `spill_dir`
    (default: the system's temporary folder, TMPDIR). A local time is read in its store's
    time zone (stores.csv beside the files), else in `timezone`, as the batch job reads it."""
    zones = store_zones(files[0].parent) if files else {}
    folder = tempfile.TemporaryDirectory(prefix="retailpipe-replay-", dir=spill_dir)
    runs, skipped = [], []
    try:
        with progress("replay: reading", len(files), "files") as bar:
            for index, path in enumerate(files):
                table, bad = read_file(path, index, timezone, zones)
                skipped.extend(bad)
                if table.num_rows:
                    runs.append(write_run(table, index, Path(folder.name) / f"{index:06d}.arrow"))
                del table
                # Hand the file's freed Arrow memory back to the system now: the sending
                # later allocates mostly outside Arrow (librdkafka's queue, Python bytes).
                pa.default_memory_pool().release_unused()
                bar.advance(1)
    except BaseException:
        folder.cleanup()
        raise
    return Source(files, runs, skipped, folder)
