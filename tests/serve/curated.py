"""Writes curated Parquet shaped exactly like the batch contract, for tests that do not run Spark.

It stands in for `retailpipe batch` where the test is about the server, not the batch job.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from retailpipe.storage import Storage
from tests.serve.oracle import CENT, Line

MONEY = pa.decimal128(12, 2)
MONEY_SUM = pa.decimal128(18, 2)


def _transactions(lines: list[Line]) -> pa.Table:
    return pa.table(
        {
            "transaction_id": [x.transaction_id for x in lines],
            "line_no": pa.array([x.line_no for x in lines], pa.int32()),
            "store_id": [x.store_id for x in lines],
            "product_id": [x.product_id for x in lines],
            "category": [x.category for x in lines],
            "quantity": pa.array([x.quantity for x in lines], pa.int32()),
            "unit_price": pa.array([x.unit_price for x in lines], MONEY),
            "discount_pct": pa.array([x.discount_pct for x in lines], pa.decimal128(5, 4)),
            "payment_method": [x.payment_method for x in lines],
            "gross_amount": pa.array([x.gross for x in lines], MONEY),
            "discount_amount": pa.array([x.discount for x in lines], MONEY),
            "net_amount": pa.array([x.net for x in lines], MONEY),
            "is_return": [x.quantity < 0 for x in lines],
            "hour": pa.array([x.hour for x in lines], pa.int32()),
            "sale_date": pa.array([x.sale_date for x in lines], pa.date32()),
        }
    )


def _aggregate(
    lines: list[Line],
    keys: tuple[str, ...],
    receipts: bool = True,
    units: bool = True,
    cube: bool = False,
) -> pa.Table:
    """Lines grouped by `keys`: receipts (distinct transaction ids), lines, units and net
    revenue; with `cube`, also gross, discount, returned and promotion amounts."""
    groups: dict[tuple[Any, ...], list[Line]] = defaultdict(list)
    for x in lines:
        groups[tuple(getattr(x, k) for k in keys)].append(x)
    rows = []
    for key, members in sorted(groups.items()):
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        if receipts:
            row["transactions"] = len({x.transaction_id for x in members})
        row["lines"] = len(members)
        if units:
            row["units"] = sum(x.quantity for x in members)
        if cube:
            row["gross_revenue"] = sum((x.gross for x in members), Decimal(0))
            row["discount_amount"] = sum((x.discount for x in members), Decimal(0))
        row["net_revenue"] = sum((x.net for x in members), Decimal(0))
        if cube:
            row["return_amount"] = sum((x.net for x in members if x.quantity < 0), Decimal(0))
            row["promo_revenue"] = sum((x.net for x in members if x.discount_pct > 0), Decimal(0))
        rows.append(row)
    schema = [
        pa.field(
            k, pa.date32() if k == "sale_date" else (pa.int32() if k == "hour" else pa.string())
        )
        for k in keys
    ]
    schema += [pa.field("transactions", pa.int64())] if receipts else []
    schema += [pa.field("lines", pa.int64())]
    schema += [pa.field("units", pa.int64())] if units else []
    money = ("gross_revenue", "discount_amount", "net_revenue", "return_amount", "promo_revenue")
    schema += [pa.field(m, MONEY_SUM) for m in (money if cube else ("net_revenue",))]
    return pa.Table.from_pylist(rows, schema=pa.schema(schema))


def aggregates(lines: list[Line]) -> dict[str, pa.Table]:
    """Every published aggregate, computed from the lines in plain Python."""
    cell = ("sale_date", "store_id", "category")
    return {
        "daily_sales": _aggregate(lines, ("sale_date",)),
        "daily_store_sales": _aggregate(lines, ("sale_date", "store_id")),
        "daily_category_sales": _aggregate(lines, ("sale_date", "category")),
        "daily_product_sales": _aggregate(lines, ("sale_date", "product_id"), receipts=False),
        "daily_payment_sales": _aggregate(lines, ("sale_date", "payment_method"), units=False),
        "hourly_sales": _aggregate(lines, ("sale_date", "hour")),
        "daily_store_category_sales": _aggregate(lines, cell, cube=True),
        "daily_store_product_sales": _aggregate(lines, (*cell, "product_id"), receipts=False),
        "daily_store_payment_sales": _aggregate(lines, (*cell, "payment_method"), receipts=False),
        "hourly_store_sales": _aggregate(lines, (*cell, "hour"), receipts=False),
        "split_receipts": _split_receipts(lines),
    }


def _split_receipts(lines: list[Line]) -> pa.Table:
    """(sale_date, transaction_id, store_id, category) of the receipts with lines on more
    than one sale date or store."""
    places: dict[str, set[tuple[dt.date, str]]] = defaultdict(set)
    for x in lines:
        places[x.transaction_id].add((x.sale_date, x.store_id))
    rows = sorted(
        {
            (x.sale_date, x.transaction_id, x.store_id, x.category)
            for x in lines
            if len(places[x.transaction_id]) > 1
        }
    )
    columns = ("sale_date", "transaction_id", "store_id", "category")
    schema = pa.schema(
        [pa.field(c, pa.date32() if c == "sale_date" else pa.string()) for c in columns]
    )
    return pa.Table.from_pylist([dict(zip(columns, r, strict=True)) for r in rows], schema=schema)


def write_curated(
    storage: Storage,
    lines: list[Line],
    run: dict[str, Any] | None = None,
    partition_aggregates: bool = False,
) -> None:
    """Transactions partitioned by sale_date, every aggregate and a batch run manifest."""
    pq.write_to_dataset(
        _transactions(lines),
        storage.path("transactions"),
        partition_cols=["sale_date"],
        existing_data_behavior="delete_matching",
    )
    for name, table in aggregates(lines).items():
        target = storage.path(name)
        target.mkdir(parents=True, exist_ok=True)
        if partition_aggregates and table.num_rows:  # an empty table makes no partition
            pq.write_to_dataset(
                table,
                target,
                partition_cols=["sale_date"],
                existing_data_behavior="delete_matching",
            )
        else:
            pq.write_table(table, target / "part-00000.parquet")
    write_run(
        storage,
        run
        or {
            "status": "succeeded",
            "counts": {
                "rows_read": len(lines) + 3,
                "valid": len(lines),
                "quarantined": 2,
                "duplicates": 1,
                "by_reason": {"bad_number": 1, "malformed_row": 1},
            },
        },
    )


def write_run(
    storage: Storage, fields: dict[str, Any], run_id: str | None = None, job: str = "batch"
) -> str:
    now = dt.datetime.now(dt.UTC)
    run_id = run_id or now.strftime("%Y%m%dT%H%M%SZ") + "-" + f"{now.microsecond:06x}"[-6:]
    body = {
        "job": job,
        "run_id": run_id,
        "started_at": now.isoformat(),
        "finished_at": now.isoformat(),
        "duration_s": 1.5,
        **fields,
    }
    runs = storage.path("runs")
    runs.mkdir(parents=True, exist_ok=True)
    tmp = runs / f".{job}-{run_id}.json.tmp"
    tmp.write_text(json.dumps(body))
    tmp.replace(runs / f"{job}-{run_id}.json")
    return run_id


def quantize(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def copy_dimensions(source: Path, storage: Storage) -> None:
    """stores.csv and products.csv for display names."""
    for name in ("stores", "products"):
        target = storage.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((source / "raw" / f"{name}.csv").read_bytes())
