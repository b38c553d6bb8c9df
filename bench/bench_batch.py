"""Benchmark `retailpipe batch` against DuckDB (2 threads) and a plain Spark CSV->Parquet copy.

Also timed: the Spark floor, the least a Spark job writing curated transactions does (a
typed read, the line amounts and the partitioned write; see SPARK_FLOOR). `floor / copy`
says how much of the 1.5x budget is spent before any validation or aggregate.

Default: 30 days x 100,000 rows. `--quick`: 5 days x 20,000 rows. `--rows-per-day N` and
`--days N` (or env BENCH_BATCH_ROWS / BENCH_BATCH_DAYS) for other sizes, e.g. 30 x 350,000
for a >= 1 GB input. Generated data is kept under BENCH_DATA_DIR (default
~/.cache/retailpipe/bench) and reused when the parameters match. Each contender runs in its
own process, session start included. `--repeat N` runs every contender N times, in turn
(batch, compare, DuckDB, copy, floor, then again), and compares medians: on a shared machine one
run can be 20 % off.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent

# How both Spark contenders start: the JVM as `batch` would start it for the same input.
SPARK_START = """
import sys
from retailpipe.batch.extract import local_input_bytes
from retailpipe.settings import load_settings
from retailpipe.spark import create_session
from retailpipe.storage import Storage
src, dst = sys.argv[1], sys.argv[2]
settings = load_settings(None, {"storage.root": dst, "spark.master": "local[2]"})
size = local_input_bytes(Storage(dst), src, None)
spark = create_session(settings, "bench", input_bytes=size)
"""

SPARK_COPY = (
    SPARK_START
    + """
from retailpipe.schemas import RAW_COLUMNS
schema = ", ".join(f"{c} string" for c in RAW_COLUMNS)
spark.read.csv(src, header=True, schema=schema).write.mode("overwrite").parquet(dst + "/copy")
spark.stop()
"""
)

# The least a Spark job that writes curated transactions does: a typed read (Spark's own CSV
# parser), the line amounts by the money rules and the sale-date partitioned write. It does
# not validate, quarantine, de-duplicate, join attributes or aggregate, and keeps no record
# text or line numbers: what `batch` adds on top of it is the price of those.
SPARK_FLOOR = (
    SPARK_START
    + """
from pyspark.sql import functions as F
from retailpipe.batch.job import CONCURRENT_WRITES
from retailpipe.transforms.money import with_line_amounts
for key, value in CONCURRENT_WRITES.items():  # no sort by sale_date before the write
    spark.conf.set(key, value)
schema = ("transaction_id string, line_no int, timestamp string, store_id string, "
          "product_id string, category string, quantity int, unit_price decimal(12,2), "
          "discount_pct decimal(5,4), payment_method string, customer_id string")
rows = spark.read.csv(src, header=True, schema=schema)
lines = rows.withColumns({
    "discount_pct": F.coalesce(F.col("discount_pct"), F.lit(0).cast("decimal(5,4)")),
    "event_ts": F.col("timestamp").try_cast("timestamp"),
    "sale_date": F.substring("timestamp", 1, 10).try_cast("date"),
}).transform(with_line_amounts)
lines.write.mode("overwrite").partitionBy("sale_date").parquet(dst + "/floor")
spark.stop()
"""
)

DUCKDB_JOB = """
import sys, duckdb
src, dst = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET threads TO 2")
types = {c: "VARCHAR" for c in ("transaction_id","line_no","timestamp","store_id","product_id",
         "category","quantity","unit_price","discount_pct","payment_method","customer_id")}
con.execute(f'''
CREATE TABLE raw AS SELECT *, filename AS source_file FROM read_csv('{src}/transactions_*.csv',
  header=true, columns={types}, filename=true, null_padding=true, ignore_errors=true,
  auto_detect=false, delim=',', quote='"', escape='"', strict_mode=false,
  store_rejects=true)''')
con.execute(f'''
CREATE TABLE typed AS SELECT r.*,
  TRY_CAST(trim(quantity) AS INTEGER) AS q, TRY_CAST(trim(unit_price) AS DECIMAL(12,2)) AS p,
  COALESCE(TRY_CAST(trim(discount_pct) AS DECIMAL(5,4)), 0) AS d,
  TRY_CAST(trim(timestamp) AS TIMESTAMPTZ) AS ts, CAST(substr(timestamp, 1, 10) AS VARCHAR) AS day,
  TRY_CAST(substr(timestamp, 12, 2) AS INTEGER) AS hour,
  s.store_name, s.city, s.region, pr.product_name, pr.brand
FROM raw r
LEFT JOIN read_csv('{src}/stores.csv', all_varchar=true) s USING (store_id)
LEFT JOIN read_csv('{src}/products.csv', all_varchar=true) pr ON r.product_id = pr.product_id''')
con.execute('''
CREATE TABLE valid AS SELECT * EXCLUDE (rn) FROM (
  SELECT *, row_number() OVER (PARTITION BY transaction_id, line_no ORDER BY source_file) AS rn
  FROM typed WHERE q IS NOT NULL AND q <> 0 AND p >= 0 AND ts IS NOT NULL AND d >= 0 AND d < 1
    AND store_name IS NOT NULL AND product_name IS NOT NULL) WHERE rn = 1''')
con.execute('''
CREATE TABLE lines AS SELECT *, round(q * p, 2) AS gross, round(round(q * p, 2) * d, 2) AS disc,
  round(q * p, 2) - round(round(q * p, 2) * d, 2) AS net, CAST(day AS DATE) AS sale_date
FROM valid''')
con.execute(f"COPY typed TO '{dst}/quarantine.parquet' (FORMAT parquet)")
con.execute(f"COPY lines TO '{dst}/transactions' (FORMAT parquet, PARTITION_BY (sale_date), "
            "OVERWRITE_OR_IGNORE)")
daily = '''count(DISTINCT transaction_id) AS transactions, count(*) AS lines, sum(q) AS units,
  sum(gross) AS gross_revenue, sum(disc) AS discount_amount, sum(net) AS net_revenue,
  sum(CASE WHEN q < 0 THEN net ELSE 0 END) AS return_amount,
  round(sum(net) / count(DISTINCT transaction_id), 2) AS avg_basket'''
aggs = {
  "daily_sales": f"SELECT sale_date, {daily} FROM lines GROUP BY ALL",
  "daily_store_sales": f"SELECT sale_date, store_id, {daily} FROM lines GROUP BY ALL",
  "daily_category_sales": f"SELECT sale_date, category, {daily} FROM lines GROUP BY ALL",
  "daily_product_sales": "SELECT sale_date, product_id, count(*) lines, sum(q) units, "
                         "sum(net) net_revenue FROM lines GROUP BY ALL",
  "daily_payment_sales": "SELECT sale_date, payment_method, count(DISTINCT transaction_id) "
                         "transactions, sum(net) net_revenue FROM lines GROUP BY ALL",
  "hourly_sales": "SELECT sale_date, hour, count(DISTINCT transaction_id) transactions, "
                  "sum(q) units, sum(net) net_revenue FROM lines GROUP BY ALL",
}
for name, sql in aggs.items():
    con.execute(f"COPY ({sql} ORDER BY ALL) TO '{dst}/{name}.parquet' (FORMAT parquet)")
    con.execute(f"COPY ({sql} ORDER BY ALL) TO '{dst}/{name}.csv' (HEADER)")
"""


def _data(days: int, rows: int) -> Path:
    base = Path(os.environ.get("BENCH_DATA_DIR", Path.home() / ".cache/retailpipe/bench"))
    root = base / f"batch-{days}x{rows}"
    if not (root / "raw" / "_manifest.json").exists():
        print(f"generating {days} days x {rows:,} rows into {root} ...", flush=True)
        subprocess.run(
            [
                str(BIN / "retailpipe"),
                "generate",
                "--days",
                str(days),
                "--rows-per-day",
                str(rows),
                "--out",
                str(root),
                "--bad-row-rate",
                "0.005",
                "--duplicate-rate",
                "0.005",
                "--late-rate",
                "0.005",
                "--force",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return root


def _timed(label: str, argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print(f"{label} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        raise SystemExit(1)
    print(f"  {label:<28} {seconds:8.1f} s", flush=True)
    return seconds


def _print_timings(root: Path) -> None:
    """The step timings of the latest run manifests (the batch runs of the last round)."""
    manifests = sorted((root / "runs").glob("batch-*.json"))[-2:]
    for manifest in manifests:
        data = json.loads(manifest.read_text())
        print(f"  {manifest.name}: {data.get('duration_s')} s, timings {data.get('timings')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--days", type=int, default=int(os.environ.get("BENCH_BATCH_DAYS", 30)))
    parser.add_argument(
        "--rows-per-day", type=int, default=int(os.environ.get("BENCH_BATCH_ROWS", 100_000))
    )
    parser.add_argument(
        "--compare-src",
        help="also time `retailpipe batch` from another source tree (a folder holding the "
        "`retailpipe` package, e.g. from `git archive <rev> retailpipe`), side by side",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=int(os.environ.get("BENCH_BATCH_REPEAT", 1)),
        help="runs per contender, in turn; the ratios compare medians (default 1)",
    )
    args = parser.parse_args()
    days, rows = (5, 20_000) if args.quick else (args.days, args.rows_per_day)
    root = _data(days, rows)
    raw = root / "raw"
    size = sum(p.stat().st_size for p in raw.glob("transactions_*.csv"))
    print(
        f"input: {days} days x {rows:,} rows/day, {size / 1e9:.2f} GB, machine "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    env = dict(os.environ, RETAILPIPE_SPARK__MASTER="local[2]", RETAILPIPE_STORAGE__ROOT=str(root))
    batch_cmd = [str(BIN / "retailpipe"), "-q", "batch"]
    contenders: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "retailpipe batch": (batch_cmd, env)
    }
    if args.compare_src:
        other_env = dict(env, PYTHONPATH=str(Path(args.compare_src).resolve()))
        contenders["retailpipe batch (compare)"] = (batch_cmd, other_env)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    times["duckdb (2 threads)"], times["spark csv->parquet copy"], times["spark floor"] = [], [], []
    for _ in range(max(1, args.repeat)):
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
            for name, (argv, run_env) in contenders.items():
                times[name].append(_timed(name, argv, run_env))
            duck = [sys.executable, "-c", DUCKDB_JOB, str(raw), tmp]
            times["duckdb (2 threads)"].append(_timed("duckdb (2 threads)", duck))
            copy = [sys.executable, "-c", SPARK_COPY, str(raw / "transactions_*.csv"), tmp]
            times["spark csv->parquet copy"].append(_timed("spark csv->parquet copy", copy))
            floor = [sys.executable, "-c", SPARK_FLOOR, str(raw / "transactions_*.csv"), tmp]
            times["spark floor"].append(_timed("spark floor", floor))
    batch, duck_s, copy_s = (
        statistics.median(times[n])
        for n in ("retailpipe batch", "duckdb (2 threads)", "spark csv->parquet copy")
    )
    if args.repeat > 1:
        print(
            "  medians: " + ", ".join(f"{n} {statistics.median(t):.1f} s" for n, t in times.items())
        )
    print(f"  batch / duckdb     = {batch / duck_s:5.2f}x  (goal <= 3x at >= 1 GB)")
    print(f"  batch / spark copy = {batch / copy_s:5.2f}x  (goal <= 1.5x)")
    floor_s = statistics.median(times["spark floor"])
    print(f"  spark floor / copy = {floor_s / copy_s:5.2f}x  (the least a Spark batch costs)")
    print(f"  batch / floor      = {batch / floor_s:5.2f}x")
    if args.compare_src:
        other = statistics.median(times["retailpipe batch (compare)"])
        print(f"  compare / duckdb   = {other / duck_s:5.2f}x")
        print(f"  compare / copy     = {other / copy_s:5.2f}x")
        print(f"  batch / compare    = {batch / other:5.2f}x")
    _print_timings(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
