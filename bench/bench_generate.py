"""Benchmark: `generate` throughput vs. the I/O floor (pyarrow.csv.write_csv of the same rows).

Generates DAYS x ROWS rows with all cores, then writes the very same rows from already-built
pyarrow tables with `pyarrow.csv.write_csv`, one file per day, in the same process. The
ratio floor_seconds / generate_seconds is generation's throughput as a share of the floor's
(goal: >= 0.6).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from retailpipe.generate.run import generate
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5 days x 20,000 rows")
    args = parser.parse_args()
    days, rows = (5, 20_000) if args.quick else (args.days, args.rows_per_day)
    work = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    try:
        params = GenerateSettings(days=days, rows_per_day=rows)
        started = time.perf_counter()
        summary = generate(params, Storage(str(work / "gen")))
        gen_s = time.perf_counter() - started

        read = pacsv.ReadOptions(column_names=None)
        convert = pacsv.ConvertOptions(column_types={}, strings_can_be_null=False)
        tables = [
            pacsv.read_csv(path, read_options=read, convert_options=convert)
            for path in sorted((work / "gen" / "raw").glob("transactions_*.csv"))
        ]
        tables = [t.cast(pa.schema([(n, pa.string()) for n in t.column_names])) for t in tables]
        floor_dir = work / "floor"
        floor_dir.mkdir()
        started = time.perf_counter()
        for i, table in enumerate(tables):
            pacsv.write_csv(table, floor_dir / f"day{i}.csv")
        floor_s = time.perf_counter() - started
        total = sum(t.num_rows for t in tables)
        print(f"rows: {total:,} ({days} days x ~{rows:,}), cores: {os.cpu_count()}")
        print(f"generate:              {gen_s:7.2f} s  {total / gen_s:12,.0f} rows/s")
        print(f"floor (write_csv):     {floor_s:7.2f} s  {total / floor_s:12,.0f} rows/s")
        print(f"ratio generate/floor throughput: {floor_s / gen_s:.2f}x  (goal >= 0.6x)")
        assert summary.rows == total
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
