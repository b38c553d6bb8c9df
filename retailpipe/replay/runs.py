"""Sorted runs: each file's rows ordered by event time and spilled to disk, and their merge.

The send order is global: event time, ties by file, then line. A file may hold rows of any
time (the generator's late rows are one or two days older than their file; a user's file
may hold anything), so no file can be sent before every file has been read. Each file is
therefore read and sorted on its own and written as a sorted run (an lz4-compressed Arrow
IPC file of RUN_BATCH-row batches); `merge` then streams the runs' batches through a k-way
merge. Memory: one file while reading; then, while sending, one decompressed batch per run
whose event-time span covers the current send position (a run is opened when the merge
reaches its first event time and closed when it is used up), plus the batch being sent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from retailpipe.replay.parse import EPOCH_US, ROW_SCHEMA

RUN_BATCH = 16_384
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass(frozen=True)
class SortedRun:
    """One file's sendable rows on disk, sorted by (event time, line)."""

    path: Path
    file_index: int
    rows: int
    first_us: int  # earliest event time, UTC microseconds
    last_us: int  # latest event time


def write_run(table: pa.Table, file_index: int, path: Path) -> SortedRun:
    """Sort one file's rows (line order in `table`) by event time and write them to `path`."""
    order = np.argsort(table[EPOCH_US].to_numpy(), kind="stable")  # ties keep line order
    table = table.take(order)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, ROW_SCHEMA, options=_IPC) as out:
        out.write_table(table, max_chunksize=RUN_BATCH)
    epochs = table[EPOCH_US]
    return SortedRun(path, file_index, table.num_rows, epochs[0].as_py(), epochs[-1].as_py())


def merge(runs: list[SortedRun]) -> Generator[pa.Table]:
    """Every row of `runs` in (event time, file, line) order, as tables of varying size.

    Each step sends every row up to the smallest last key among the open runs' current
    batches: no row still on disk, in an open run or in one not opened yet, can sort
    before it. That is at least one whole batch per step.
    """
    pending = deque(sorted(runs, key=lambda run: (run.first_us, run.file_index)))
    cursors: list[_Cursor] = []
    try:
        while pending or cursors:
            bound = _open_due(pending, cursors)
            yield _take_up_to(cursors, bound)
            for cursor in [c for c in cursors if c.used_up() and not c.advance()]:
                cursor.close()
                cursors.remove(cursor)
    finally:
        for cursor in cursors:
            cursor.close()


class _Cursor:
    """A run being merged: its current batch and how far into it the merge has sent."""

    def __init__(self, run: SortedRun) -> None:
        self.run = run
        self.file = pa.OSFile(str(run.path))
        self.reader = pa.ipc.open_file(self.file)
        self.next_batch = 0
        self.advance()

    def advance(self) -> bool:
        """Load the next batch; False when the run is used up."""
        if self.next_batch == self.reader.num_record_batches:
            return False
        self.batch = self.reader.get_batch(self.next_batch)
        self.next_batch += 1
        self.epochs = self.batch.column(EPOCH_US).to_numpy()
        self.position = 0
        return True

    @property
    def last_key(self) -> tuple[int, int]:
        return int(self.epochs[-1]), self.run.file_index

    def used_up(self) -> bool:
        return self.position == len(self.epochs)

    def take(self, bound: tuple[int, int]) -> pa.RecordBatch:
        """This batch's unsent rows whose key is at most `bound` (rows are unique by file)."""
        epoch, file_index = bound
        side: Literal["left", "right"] = "right" if self.run.file_index <= file_index else "left"
        end = self.position + int(np.searchsorted(self.epochs[self.position :], epoch, side))
        piece = self.batch.slice(self.position, end - self.position)
        self.position = end
        return piece

    def close(self) -> None:
        self.file.close()


def _open_due(pending: deque[SortedRun], cursors: list[_Cursor]) -> tuple[int, int]:
    """Open the runs that may hold a row before the open runs' smallest last key; return it."""
    while pending and (not cursors or pending[0].first_us <= min(c.last_key for c in cursors)[0]):
        cursors.append(_Cursor(pending.popleft()))
    cursors.sort(key=lambda cursor: cursor.run.file_index)
    return min(cursor.last_key for cursor in cursors)


def _take_up_to(cursors: list[_Cursor], bound: tuple[int, int]) -> pa.Table:
    # Pieces in file order, each sorted: a stable sort by event time gives (time, file, line).
    pieces = [piece for cursor in cursors if (piece := cursor.take(bound)).num_rows]
    table = pa.Table.from_batches(pieces, ROW_SCHEMA)
    if len(pieces) > 1:
        table = table.take(np.argsort(table[EPOCH_US].to_numpy(), kind="stable"))
    return table
