"""Reconcile's batch side: pyarrow against Spark on the same curated `transactions`.

Both compute distinct receipts, units and net revenue per store and UTC hour over every
curated line, each in a fresh process; the results must be equal. Spark's time is given
with and without starting its session (`retailpipe reconcile` would have to start one).
Rounds alternate the two.

    python bench/bench_reconcile.py --root /tmp/retail-1g [--rounds 2]

The root must hold the output of `retailpipe batch` (e.g. after
`retailpipe generate --days 30 --rows-per-day 370000 --out ROOT` and `batch`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from retailpipe.storage import Storage

Figures = dict[str, tuple[int, int, str]]


def with_pyarrow(root: str) -> tuple[Figures, float]:
    from retailpipe.reconcile.batch_side import read_batch
    from retailpipe.reconcile.model import Span
    from retailpipe.reconcile.source import Source

    side = read_batch(Source(Storage(root)), Span())
    figures = {
        f"{store}|{hour:%Y-%m-%dT%H}": (v.receipts, v.units, str(v.net_revenue))
        for (store, hour), v in side.figures.items()
    }
    return figures, 0.0


def with_spark(root: str) -> tuple[Figures, float]:
    from pyspark.sql import functions as F

    from retailpipe.settings import load_settings
    from retailpipe.spark import create_session

    started = time.perf_counter()
    spark = create_session(load_settings(None, {"storage.root": root}), "bench")
    session_s = time.perf_counter() - started
    rows = (
        spark.read.parquet(Storage(root).uri("transactions"))
        .groupBy(F.col("store_id"), F.date_trunc("hour", F.col("event_ts")).alias("hour"))
        .agg(
            F.count_distinct(F.col("transaction_id")).alias("receipts"),
            F.sum(F.col("quantity")).alias("units"),
            F.sum(F.col("net_amount")).alias("net"),
        )
        .collect()
    )
    spark.stop()
    figures = {
        f"{r.store_id}|{r.hour:%Y-%m-%dT%H}": (r.receipts, r.units, str(r.net)) for r in rows
    }
    return figures, session_s


def child(how: str, root: str) -> None:
    started = time.perf_counter()
    figures, session_s = (with_pyarrow if how == "pyarrow" else with_spark)(root)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "session_s": session_s, "figures": figures}))


def run(how: str, root: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--root", root, "--child", how],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=["pyarrow", "spark"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.root)
        return
    size = sum(p.stat().st_size for p in Path(args.root, "raw").glob("transactions_*.csv"))
    print(f"raw CSV: {size / 1e9:.2f} GB")
    times: dict[str, list[float]] = {"pyarrow": [], "spark": [], "spark_without_session": []}
    reference: dict[str, tuple[int, int, Decimal]] | None = None
    for round_no in range(1, args.rounds + 1):
        for how in ("pyarrow", "spark"):
            result = run(how, args.root)
            figures = {k: (v[0], v[1], Decimal(v[2])) for k, v in result["figures"].items()}
            reference = reference or figures
            assert figures == reference, f"{how} disagrees with the first result"
            times[how].append(result["seconds"])
            if how == "spark":
                times["spark_without_session"].append(result["seconds"] - result["session_s"])
            print(f"round {round_no} {how}: {result['seconds']:.1f} s", flush=True)
    print(f"store-hours: {len(reference or {})}")
    medians = {how: statistics.median(values) for how, values in times.items()}
    for how, value in medians.items():
        print(f"{how:24s} median {value:6.1f} s  ({value / medians['pyarrow']:.2f}x pyarrow)")


if __name__ == "__main__":
    main()
