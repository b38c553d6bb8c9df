"""Batch dashboard figures from the published aggregates: KPIs, chart series, data quality.

No figure reads the line items: a view of any dates, store and category is answered from
the daily aggregates, the (sale_date, store_id, category) cube or its breakdowns, all a few
rows per day, so memory and the first answer's time do not grow with the lines per day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from retailpipe.serve.data import Catalog, DataUnavailable
from retailpipe.serve.query import CENT, BadRequest, BatchQuery, money, ratio
from retailpipe.storage import AGGREGATES

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The cube: every KPI for any store and category (receipts exactly per category; see
# `_receipts` for the other views).
CUBE = "daily_store_category_sales"
# The aggregate that answers "net revenue by <key>" when no store/category filter is set.
AGGREGATE_FOR = {
    "sale_date": "daily_sales",
    "store_id": "daily_store_sales",
    "category": "daily_category_sales",
    "product_id": "daily_product_sales",
    "payment_method": "daily_payment_sales",
    "hour": "hourly_sales",
}
# ... and with a store or category filter: the cube or one of its breakdowns, which carry
# store_id and category beside their own key.
BREAKDOWN_FOR = {
    "sale_date": CUBE,
    "store_id": CUBE,
    "category": CUBE,
    "product_id": "daily_store_product_sales",
    "payment_method": "daily_store_payment_sales",
    "hour": "hourly_store_sales",
}
# Every cached figure is keyed by the versions of all of these, so any republish shows. The
# line items are not among them: no batch figure reads them.
BATCH_DATASETS = (*AGGREGATES, "runs", "stores", "products")


@dataclass(frozen=True)
class View:
    """A query resolved against the data: concrete dates, known store and category."""

    start: dt.date
    end: dt.date
    store: str | None
    category: str | None

    @property
    def filtered(self) -> bool:
        return self.store is not None or self.category is not None

    def previous(self) -> View:
        """The period of the same length just before this one, with the same filters."""
        days = (self.end - self.start).days + 1
        return View(
            self.start - dt.timedelta(days=days),
            self.start - dt.timedelta(days=1),
            self.store,
            self.category,
        )

    def echo(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "store": self.store,
            "category": self.category,
        }


def has_data(catalog: Catalog) -> bool:
    """Whether every aggregate the figures come from is published (a root written before the
    cube existed has none until the next `retailpipe batch`)."""
    return all(catalog.version(name) is not None for name in AGGREGATES)


def options(catalog: Catalog) -> dict[str, Any]:
    """What the filters can take: the data's date range, the stores and the categories."""
    return catalog.cached(
        ("options",),
        ("daily_sales", "daily_store_sales", "daily_category_sales", "stores"),
        lambda: _options(catalog),
    )


def _options(catalog: Catalog) -> dict[str, Any]:
    daily = catalog.table("daily_sales", ["sale_date"])
    stores = catalog.table("daily_store_sales", ["store_id"])
    categories = catalog.table("daily_category_sales", ["category"])
    if daily is None or daily.num_rows == 0:
        return {"min_date": None, "max_date": None, "stores": [], "categories": []}
    names = catalog.names("stores", "store_id", "store_name")
    store_ids = sorted(set(stores["store_id"].to_pylist())) if stores is not None else []
    return {
        "min_date": pc.min(daily["sale_date"]).as_py().isoformat(),
        "max_date": pc.max(daily["sale_date"]).as_py().isoformat(),
        "stores": [{"id": s, "name": names.get(s, s)} for s in store_ids],
        "categories": sorted(set(categories["category"].to_pylist())) if categories else [],
    }


def resolve(catalog: Catalog, query: BatchQuery) -> View:
    """Fill in the default range (all data) and reject stores/categories the data lacks."""
    opts = options(catalog)
    first = dt.date.fromisoformat(opts["min_date"])
    last = dt.date.fromisoformat(opts["max_date"])
    start, end = query.start or first, query.end or last
    if start > end:
        raise BadRequest(f"the range {start}..{end} is empty; the data covers {first}..{last}")
    if query.store and query.store not in {s["id"] for s in opts["stores"]}:
        raise BadRequest(f"store={query.store!r} is not in the data")
    if query.category and query.category not in opts["categories"]:
        raise BadRequest(f"category={query.category!r} is not in the data")
    return View(start, end, query.store, query.category)


def _where(view: View) -> ds.Expression:
    where = (pc.field("sale_date") >= view.start) & (pc.field("sale_date") <= view.end)
    if view.store:
        where = where & (pc.field("store_id") == view.store)
    if view.category:
        where = where & (pc.field("category") == view.category)
    return where


def _decimal(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def kpis(catalog: Catalog, view: View) -> dict[str, Any]:
    """The KPI tiles, from the cube and the receipt counts per day and store."""
    return catalog.cached(("kpis", view), BATCH_DATASETS, lambda: _kpis(catalog, view))


def _total(table: pa.Table, column: str) -> Decimal:
    return _decimal(pc.sum(table[column]).as_py())


def _receipts(catalog: Catalog, view: View, cube: pa.Table) -> int:
    """Distinct receipts in the view, exactly. The published counts are per day (all
    stores), per day and store, or per cube cell (receipts with a line in the category: a
    receipt spans categories, so those counts are used for one category only). Adding them
    up counts a receipt once per day or store it has lines in; `split_receipts` lists the
    few such receipts (late lines), and each is counted once."""
    if view.category:
        counted = _total(cube, "transactions")
    elif view.store:
        columns = ["sale_date", "store_id", "transactions"]
        counted = _total(
            _present(catalog.table("daily_store_sales", columns)).filter(_where(view)),
            "transactions",
        )
    else:
        table = _present(catalog.table("daily_sales", ["sale_date", "transactions"]))
        counted = _total(table.filter(_where(view)), "transactions")
    split = _present(catalog.table("split_receipts")).filter(_where(view))
    # The places each of them was counted in: days, or (day, store) pairs.
    place = ["sale_date", "store_id"] if view.filtered else ["sale_date"]
    places = split.group_by(["transaction_id", *place]).aggregate([]).num_rows
    distinct = pc.count_distinct(split["transaction_id"]).as_py()
    return int(counted) - places + distinct


def _kpis(catalog: Catalog, view: View) -> dict[str, Any]:
    columns = ["sale_date", "store_id", "category", "transactions", "lines", "units"]
    columns += ["net_revenue", "return_amount", "promo_revenue"]
    cube = _present(catalog.table(CUBE, columns)).filter(_where(view))
    net, returned, promo = (_total(cube, c) for c in columns[-3:])
    sold = net - returned  # the net revenue of sale lines: every line is one or the other
    receipts = _receipts(catalog, view, cube)
    last_run = catalog.latest_run("batch", "succeeded")
    basket = (net / receipts).quantize(CENT, rounding=ROUND_HALF_UP) if receipts else None
    return {
        "net_revenue": money(net),
        "transactions": receipts,
        "lines": int(_total(cube, "lines")),
        "units": int(_total(cube, "units")),
        "avg_basket": money(basket) if basket is not None else None,
        "return_amount": money(returned),
        "return_rate": ratio(-returned, sold),
        "promo_revenue": money(promo),
        "promo_share": ratio(promo, net),
        "quarantined_last_run": (last_run or {}).get("counts", {}).get("quarantined"),
    }


# How a tile's change is stated: relative to the previous value, or as the difference of
# two ratios (a return rate going from 0.0100 to 0.0125 changed by 0.0025, not by 25 %).
RELATIVE_CHANGE = ("net_revenue", "transactions", "units", "avg_basket")
POINTS_CHANGE = ("return_rate", "promo_share")


def kpi_changes(catalog: Catalog, view: View) -> dict[str, Any]:
    """The previous period of the same length and every tile's change against it; both
    null when that period starts before the data does (a part-period would mislead)."""
    before = view.previous()
    first = dt.date.fromisoformat(options(catalog)["min_date"])
    if before.start < first:
        return {"previous": None, "change": dict.fromkeys(RELATIVE_CHANGE + POINTS_CHANGE)}
    now, then = kpis(catalog, view), kpis(catalog, before)
    change: dict[str, str | None] = {}
    for key in RELATIVE_CHANGE:
        old = None if then[key] is None else Decimal(then[key])
        new = None if now[key] is None else Decimal(now[key])
        change[key] = None if old is None or new is None else ratio(new - old, abs(old))
    for key in POINTS_CHANGE:
        if now[key] is None or then[key] is None:
            change[key] = None
        else:
            change[key] = str(Decimal(now[key]) - Decimal(then[key]))
    return {
        "previous": {
            "start": before.start.isoformat(),
            "end": before.end.isoformat(),
            "kpis": {k: v for k, v in then.items() if k != "quarantined_last_run"},
        },
        "change": change,
    }


def _grouped(catalog: Catalog, view: View, keys: list[str], units: bool = True) -> pa.Table:
    """Net revenue (and units) per `keys` over the view: from the daily aggregate when the
    view has no store/category filter, else from the cube or its breakdown by the key. The
    cube (a few rows per day) is kept in memory; a breakdown is read with the filters pushed
    down to the scan, its answer cached."""
    columns = [*dict.fromkeys(["sale_date", *keys]), "net_revenue"] + (["units"] if units else [])
    if view.filtered:
        name = BREAKDOWN_FOR[keys[-1]]
        columns = list(dict.fromkeys([*columns, "store_id", "category"]))
        if name == CUBE:
            table = _present(catalog.table(name, columns)).filter(_where(view))
        else:
            table = _present(catalog.scan(name, columns, _where(view)))
    else:
        table = _present(catalog.table(AGGREGATE_FOR[keys[-1]], columns)).filter(_where(view))
    measures = [("net_revenue", "sum")] + ([("units", "sum")] if units else [])
    grouped = table.group_by(keys).aggregate(measures)
    return grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])


def _present(table: pa.Table | None) -> pa.Table:
    """A dataset that `has_data` vouched for; gone since then means it is being replaced."""
    if table is None:
        raise DataUnavailable("a curated dataset disappeared while being read")
    return table


def _rows(table: pa.Table, sort: str = "net_revenue") -> list[dict[str, Any]]:
    rows = table.to_pylist()
    rows.sort(key=lambda r: (-_decimal(r[sort]), str(r[table.column_names[0]])))
    return rows


def daily(catalog: Catalog, view: View) -> list[dict[str, Any]]:
    """Net revenue per day of the view, next to the matching day of the previous period of
    the same length (null where that day is before the data starts)."""

    def compute() -> list[dict[str, Any]]:
        days = (view.end - view.start).days + 1
        previous = view.previous()
        first = dt.date.fromisoformat(options(catalog)["min_date"])
        now = {
            r["sale_date"]: r["net_revenue"]
            for r in _grouped(catalog, view, ["sale_date"]).to_pylist()
        }
        before = {
            r["sale_date"]: r["net_revenue"]
            for r in _grouped(catalog, previous, ["sale_date"]).to_pylist()
        }
        out = []
        for i in range(days):
            day, prior = view.start + dt.timedelta(days=i), previous.start + dt.timedelta(days=i)
            out.append(
                {
                    "sale_date": day.isoformat(),
                    "net_revenue": money(now.get(day)),
                    "previous_date": prior.isoformat(),
                    "previous_net_revenue": money(before.get(prior)) if prior >= first else None,
                }
            )
        return out

    return catalog.cached(("daily", view), BATCH_DATASETS, compute)


def stores(catalog: Catalog, view: View) -> list[dict[str, Any]]:
    def compute() -> list[dict[str, Any]]:
        names = catalog.names("stores", "store_id", "store_name")
        return [
            {
                "store_id": r["store_id"],
                "store_name": names.get(r["store_id"], r["store_id"]),
                "net_revenue": money(r["net_revenue"]),
                "units": r["units"],
            }
            for r in _rows(_grouped(catalog, view, ["store_id"]))
        ]

    return catalog.cached(("stores", view), BATCH_DATASETS, compute)


def categories(catalog: Catalog, view: View) -> list[dict[str, Any]]:
    def compute() -> list[dict[str, Any]]:
        return [
            {"category": r["category"], "net_revenue": money(r["net_revenue"]), "units": r["units"]}
            for r in _rows(_grouped(catalog, view, ["category"]))
        ]

    return catalog.cached(("categories", view), BATCH_DATASETS, compute)


def products(catalog: Catalog, view: View, limit: int) -> list[dict[str, Any]]:
    """The `limit` products with the highest net revenue (ties by product id)."""

    def compute() -> list[dict[str, Any]]:
        names = catalog.names("products", "product_id", "product_name")
        rows = _rows(_grouped(catalog, view, ["product_id"]))[:limit]
        return [
            {
                "product_id": r["product_id"],
                "product_name": names.get(r["product_id"], r["product_id"]),
                "net_revenue": money(r["net_revenue"]),
                "units": r["units"],
            }
            for r in rows
        ]

    return catalog.cached(("products", view, limit), BATCH_DATASETS, compute)


def payments(catalog: Catalog, view: View) -> list[dict[str, Any]]:
    """Net revenue per payment method and its share of the total."""

    def compute() -> list[dict[str, Any]]:
        rows = _rows(_grouped(catalog, view, ["payment_method"], units=False))
        total = sum((_decimal(r["net_revenue"]) for r in rows), Decimal(0))
        return [
            {
                "payment_method": r["payment_method"],
                "net_revenue": money(r["net_revenue"]),
                "share": ratio(_decimal(r["net_revenue"]), total),
            }
            for r in rows
        ]

    return catalog.cached(("payments", view), BATCH_DATASETS, compute)


def heatmap(catalog: Catalog, view: View) -> list[dict[str, Any]]:
    """Net revenue per weekday (0 = Monday) x local hour, all 7 x 24 cells."""

    def compute() -> list[dict[str, Any]]:
        cells = {(w, h): Decimal(0) for w in range(7) for h in range(24)}
        for row in _grouped(catalog, view, ["sale_date", "hour"], units=False).to_pylist():
            cells[(row["sale_date"].weekday(), int(row["hour"]))] += _decimal(row["net_revenue"])
        return [
            {"weekday": w, "weekday_name": WEEKDAYS[w], "hour": h, "net_revenue": money(v)}
            for (w, h), v in cells.items()
        ]

    return catalog.cached(("heatmap", view), BATCH_DATASETS, compute)


def quality(catalog: Catalog) -> dict[str, Any] | None:
    """The data-quality panel from the newest successful batch run manifest."""
    run = catalog.latest_run("batch", "succeeded")
    if run is None:
        return None
    latest = catalog.latest_run("batch")
    counts = run.get("counts", {})
    return {
        "run_id": run.get("run_id"),
        "status": run.get("status"),
        "started_at": run.get("started_at"),
        "finished_at": run.get("finished_at"),
        "duration_s": run.get("duration_s"),
        "rows_read": counts.get("rows_read"),
        "valid": counts.get("valid"),
        "quarantined": counts.get("quarantined"),
        "duplicates": counts.get("duplicates"),
        "by_reason": dict(sorted(counts.get("by_reason", {}).items())),
        "rejected_files": run.get("rejected_files", []),
        "latest_attempt": None
        if latest is None or latest.get("run_id") == run.get("run_id")
        else {"run_id": latest.get("run_id"), "status": latest.get("status")},
    }
