"""`generate`: write the daily CSV files, the dimension tables and the truth manifest."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from retailpipe import __version__
from retailpipe.errors import InputError
from retailpipe.fs import LOCAL, atomic_write, replacing
from retailpipe.generate.day import DayResult, World, day_targets, render_day, write_body
from retailpipe.generate.dimensions import make_products, make_stores
from retailpipe.generate.profiles import DEFAULT_PROFILE, get_profile
from retailpipe.progress import progress
from retailpipe.schemas import PRODUCT_COLUMNS, STORE_COLUMNS
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1


@dataclass
class GenerateSummary:
    raw_dir: str
    files: int
    rows: int
    defects: dict[str, int]
    net_revenue: str
    seconds: float


def parameters(params: GenerateSettings, profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
    """The parameters that decide the output bytes (recorded in and compared with the manifest)."""
    data = params.model_dump(mode="json")
    data.pop("workers")
    data["profile"] = profile
    return data


def make_world(params: GenerateSettings, profile: str = DEFAULT_PROFILE) -> World:
    return World(
        seed=params.seed,
        rows_per_day=params.rows_per_day,
        timezone=params.timezone,
        stores=make_stores(params.stores, params.seed),
        products=make_products(params.products, params.seed, get_profile(profile)),
        customers=max(100, params.stores * 800),
        bad_row_rate=params.bad_row_rate,
        duplicate_rate=params.duplicate_rate,
        late_rate=params.late_rate,
    )


# The world of this process: built once per worker instead of pickled with every day.
_WORLD: dict[str, World] = {}


def _init_worker(params: GenerateSettings, profile: str) -> None:
    _WORLD["world"] = make_world(params, profile)


def _write_day(args: tuple[dt.date, int, str]) -> DayResult:
    day, n_lines, path = args
    body, result = render_day(_WORLD["world"], day, n_lines, Path(path).name)
    with replacing(path) as handle:
        write_body(body, handle)
    return result


def generate(
    params: GenerateSettings,
    storage: Storage,
    *,
    force: bool = False,
    profile: str = DEFAULT_PROFILE,
) -> GenerateSummary:
    """Generate `params.days` days of raw files under the storage root's `raw/` folder, for a
    chain whose category mix follows `profile` (see generate/profiles.py)."""
    started = time.monotonic()
    get_profile(profile)  # an unknown name fails before anything is written
    raw_dir = _prepare_raw_dir(storage, params, profile, force)
    world = make_world(params, profile)
    _write_dimensions(storage, world)
    days = [params.start_date + dt.timedelta(days=i) for i in range(params.days)]
    targets = day_targets(world, days)
    jobs = [(day, n, str(storage.raw_day_path(day))) for day, n in zip(days, targets, strict=True)]
    workers = params.workers or min(len(days), os.cpu_count() or 1)
    results: list[DayResult] = []
    with progress("generate", len(days), "days") as bar:
        if workers <= 1:
            _WORLD["world"] = world
            for job in jobs:
                results.append(_write_day(job))
                bar.advance(1, status=results[-1].date)
        else:
            with ProcessPoolExecutor(
                workers, initializer=_init_worker, initargs=(params, profile)
            ) as pool:
                for result in pool.map(_write_day, jobs):
                    results.append(result)
                    bar.advance(1, status=result.date)
    manifest = _manifest(parameters(params, profile), results)
    atomic_write(LOCAL, storage.path("manifest"), json.dumps(manifest, indent=2).encode() + b"\n")
    return GenerateSummary(
        raw_dir=str(raw_dir),
        files=len(results),
        rows=manifest["totals"]["rows"],
        defects=manifest["totals"]["defects"],
        net_revenue=manifest["totals"]["net_revenue"],
        seconds=round(time.monotonic() - started, 2),
    )


def _prepare_raw_dir(storage: Storage, params: GenerateSettings, profile: str, force: bool) -> Path:
    if not storage.is_local:
        raise InputError(
            "generate writes to a local storage root",
            "generate locally, then upload raw/ to HDFS (see README, 'HDFS')",
        )
    raw_dir = storage.path("raw")
    try:
        raw_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create {raw_dir}: {exc.strerror}",
            "choose a writable --out or storage.root",
        ) from exc
    if not os.access(raw_dir, os.W_OK):
        raise InputError(f"{raw_dir} is not writable", "choose a writable --out or storage.root")
    existing = sorted(raw_dir.glob("transactions_*.csv"))
    manifest_path = storage.path("manifest")
    if existing:
        same = False
        if manifest_path.exists():
            try:
                old = json.loads(manifest_path.read_text())
                same = old.get("parameters") == parameters(params, profile)
            except (OSError, ValueError):
                same = False
        if not same and not force:
            raise InputError(
                f"{raw_dir} already holds {len(existing)} raw files "
                "generated with other parameters",
                "pass --force to replace them, or choose another --out",
            )
        for path in existing:
            path.unlink()
    return raw_dir


def _write_dimensions(storage: Storage, world: World) -> None:
    stores, products = world.stores, world.products
    store_rows = zip(
        stores.ids,
        stores.names,
        stores.cities,
        stores.regions,
        stores.sizes,
        stores.opened,
        strict=True,
    )
    prices = [f"{c // 100}.{c % 100:02d}" for c in products.price_cents.tolist()]
    product_rows = zip(
        products.ids, products.names, products.categories, products.brands, prices, strict=True
    )
    atomic_write(LOCAL, storage.path("stores"), _csv(STORE_COLUMNS, store_rows))
    atomic_write(LOCAL, storage.path("products"), _csv(PRODUCT_COLUMNS, product_rows))


def _csv(header: tuple[str, ...], rows: Any) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _manifest(parameters: dict[str, Any], results: list[DayResult]) -> dict[str, Any]:
    by_date: dict[str, list[int]] = {}
    defects: dict[str, int] = {}
    for result in results:
        for date, (lines, net, units) in result.by_sale_date.items():
            total = by_date.setdefault(date, [0, 0, 0])
            total[0] += lines
            total[1] += net
            total[2] += units
        for defect in result.defects:
            kind = str(defect["kind"])
            defects[kind] = defects.get(kind, 0) + 1
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": f"retailpipe {__version__}",
        "parameters": parameters,
        "files": [
            {"date": r.date, "file": r.file, "rows": r.rows, "defects": len(r.defects)}
            for r in results
        ],
        "sale_dates": {
            date: {"valid_lines": v[0], "units": v[2], "net_revenue": _cents(v[1])}
            for date, v in sorted(by_date.items())
        },
        "totals": {
            "rows": sum(r.rows for r in results),
            "valid_lines": sum(v[0] for v in by_date.values()),
            "net_revenue": _cents(sum(v[1] for v in by_date.values())),
            "defects": dict(sorted(defects.items())),
        },
        "defects": [d for r in results for d in r.defects],
    }


def _cents(value: int) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"


def summary_dict(summary: GenerateSummary) -> dict[str, Any]:
    return asdict(summary)
