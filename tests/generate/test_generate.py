"""The generator: determinism, schema, manifest truth (against an independent reading), shape."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from retailpipe.errors import InputError
from retailpipe.generate.run import generate
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage
from tests.generate.oracle import COLUMNS, Reading, read_raw

SMALL = {"days": 4, "rows_per_day": 3000, "stores": 6, "products": 120, "seed": 11}
DEFECTS = {"bad_row_rate": 0.02, "duplicate_rate": 0.01, "late_rate": 0.01}


def _run(root: Path, **params: object) -> Path:
    generate(GenerateSettings(**(SMALL | params)), Storage(str(root)))
    return root / "raw"


def _digests(raw: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(raw.iterdir())}


# Golden checksums: "the same arguments and seed give byte-identical files on any machine"
# (README). A change here is a change of the generator's output: say so in the changelog.
GOLDEN_PARAMS = {
    "days": 2,
    "rows_per_day": 300,
    "stores": 3,
    "products": 20,
    "seed": 7,
    "start_date": dt.date(2026, 1, 5),
    "bad_row_rate": 0.02,
    "duplicate_rate": 0.01,
    "late_rate": 0.01,
}
GOLDEN = {
    "_manifest.json": "a787fdb73084e51e2485a5612a932c1653f9b93dae6069629ce7bef7a34d08fc",
    "products.csv": "ef3d4b99968f06f91ab7b89b0a63d5205cbe0e0c30c8058e288d543db3f1768d",
    "stores.csv": "b0232d5b91e4b637127f785efb78ed87641469deef8a8dc7ba0f119854c938af",
    "transactions_2026-01-05.csv": (
        "1d95aefcaa6540b45b30258f0afe0e4f7921d0678b084d691b8433f888a67e06"
    ),
    "transactions_2026-01-06.csv": (
        "ede718de45101a28f192a7dd053fed3fedfe523b59f89f05fbdb3c32f052d0b2"
    ),
}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_small_seeded_run_has_the_golden_checksums(tmp_path: Path, workers: int) -> None:
    params = GenerateSettings(**GOLDEN_PARAMS, workers=workers)  # type: ignore[arg-type]
    generate(params, Storage(str(tmp_path)))
    assert _digests(tmp_path / "raw") == GOLDEN


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("clean"), days=14, rows_per_day=4000)


@pytest.fixture(scope="module")
def clean_reading(clean: Path) -> Reading:
    """The clean days read once by the oracle (the tests below only look at the reading)."""
    return read_raw(clean)


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("defective"), **DEFECTS)


def test_same_seed_gives_identical_bytes_with_any_worker_count(tmp_path: Path) -> None:
    one = _run(tmp_path / "a", workers=1, **DEFECTS)
    two = _run(tmp_path / "b", workers=2, **DEFECTS)
    assert _digests(one) == _digests(two)
    other = _run(tmp_path / "c", workers=2, **(DEFECTS | {"seed": 12}))
    assert (
        _digests(other)["transactions_2026-01-01.csv"]
        != _digests(one)["transactions_2026-01-01.csv"]
    )


def test_layout_and_header(clean: Path) -> None:
    names = sorted(p.name for p in clean.iterdir())
    days = [f"transactions_2026-01-{d:02d}.csv" for d in range(1, 15)]
    assert names == sorted([*days, "stores.csv", "products.csv", "_manifest.json"])
    first = (clean / days[0]).read_text().splitlines()[0]
    assert first.split(",") == list(COLUMNS)


def test_every_column_has_its_type(clean: Path, clean_reading: Reading) -> None:
    reading = clean_reading
    assert reading.reasons == {} and reading.duplicates == 0
    stores = {r["store_id"] for r in csv.DictReader((clean / "stores.csv").open())}
    products = {r["product_id"]: r for r in csv.DictReader((clean / "products.csv").open())}
    for line in reading.lines:
        assert line.line_no >= 1 and line.quantity != 0
        assert line.unit_price >= 0 and line.unit_price.as_tuple().exponent == -2
        assert Decimal(0) <= line.discount_pct < 1
        assert line.ts.utcoffset() is not None
        assert line.store_id in stores and line.product_id in products
        assert line.category == products[line.product_id]["category"]
        assert line.payment_method in {"card", "cash", "mobile", "gift_card"}
        assert line.customer_id == "" or line.customer_id.startswith("C")
    keys = [(line.transaction_id, line.line_no) for line in reading.lines]
    assert len(keys) == len(set(keys))


def test_manifest_matches_an_independent_reading(defective: Path) -> None:
    manifest = json.loads((defective / "_manifest.json").read_text())
    reading = read_raw(defective)
    net: dict[str, Decimal] = defaultdict(Decimal)
    lines: Counter[str] = Counter()
    for line in reading.lines:
        net[line.sale_date] += line.net
        lines[line.sale_date] += 1
    assert {d: Decimal(v["net_revenue"]) for d, v in manifest["sale_dates"].items()} == dict(net)
    assert {d: v["valid_lines"] for d, v in manifest["sale_dates"].items()} == dict(lines)
    assert manifest["totals"]["rows"] == reading.rows
    assert sum(f["rows"] for f in manifest["files"]) == reading.rows
    kinds = Counter(d["kind"] for d in manifest["defects"])
    assert kinds["duplicate"] == reading.duplicates
    for reason, count in reading.reasons.items():
        assert kinds[reason] == count, reason


def test_defects_sit_where_the_manifest_says(defective: Path) -> None:
    manifest = json.loads((defective / "_manifest.json").read_text())
    files = {p.name: p.read_text().split("\n") for p in defective.glob("transactions_*.csv")}
    for defect in manifest["defects"]:
        text = files[defect["file"]][defect["line_number"] - 1]
        if defect["kind"] == "duplicate":
            assert text == files[defect["file"]][defect["line_number"] - 2]
        elif defect["kind"] == "late_row":
            assert text.split(",")[2][:10] == defect["sale_date"] < defect["file"][13:23]
        else:
            assert defect["transaction_id"] in text or defect["kind"] == "malformed_row"


def test_each_defect_kind_appears_at_about_its_rate(defective: Path) -> None:
    manifest = json.loads((defective / "_manifest.json").read_text())
    kinds = Counter(d["kind"] for d in manifest["defects"])
    rows = manifest["totals"]["rows"]
    bad = sum(
        kinds[k]
        for k in ("malformed_row", "bad_number", "bad_timestamp", "negative_price", "zero_quantity")
    )
    assert 0.6 * DEFECTS["bad_row_rate"] < bad / rows < 1.4 * DEFECTS["bad_row_rate"]
    assert 0.5 * DEFECTS["late_rate"] < kinds["late_row"] / rows < 1.5 * DEFECTS["late_rate"]
    assert (
        0.5 * DEFECTS["duplicate_rate"]
        < kinds["duplicate"] / rows
        < 1.5 * DEFECTS["duplicate_rate"]
    )
    assert all(
        kinds[k] > 0
        for k in ("malformed_row", "bad_number", "bad_timestamp", "negative_price", "zero_quantity")
    )


def test_no_defects_by_default(clean: Path) -> None:
    manifest = json.loads((clean / "_manifest.json").read_text())
    assert manifest["defects"] == [] and manifest["totals"]["defects"] == {}


def test_distributions_tell_a_story(clean_reading: Reading) -> None:
    reading = clean_reading
    hours = Counter(line.ts.hour for line in reading.lines)
    assert min(hours) >= 8 and max(hours) <= 21
    assert hours[12] > 2 * hours[8] and hours[18] > 2 * hours[8]
    returns = sum(1 for line in reading.lines if line.quantity < 0) / len(reading.lines)
    assert 0.002 < returns < 0.05
    promo = sum(1 for line in reading.lines if line.discount_pct > 0) / len(reading.lines)
    assert 0.03 < promo < 0.3
    by_day = Counter(line.sale_date for line in reading.lines)
    weekday = dt.date.fromisoformat
    saturdays = [n for d, n in by_day.items() if weekday(d).weekday() == 5]
    mondays = [n for d, n in by_day.items() if weekday(d).weekday() == 0]
    assert min(saturdays) > max(mondays)
    stores = Counter(line.store_id for line in reading.lines)
    assert max(stores.values()) > 2 * min(stores.values())
    products = Counter(line.product_id for line in reading.lines).most_common()
    top_decile = sum(n for _, n in products[: len(products) // 10])
    assert top_decile > 0.3 * len(reading.lines)
    baskets = Counter(line.transaction_id for line in reading.lines)
    assert sum(1 for n in baskets.values() if n > 1) > 0.4 * len(baskets)
    loyal = sum(1 for line in reading.lines if line.customer_id) / len(reading.lines)
    assert 0.2 < loyal < 0.7
    payments = Counter(line.payment_method for line in reading.lines)
    assert payments.most_common(1)[0][0] == "card" and len(payments) == 4


def test_returns_refer_to_products_sold_at_shelf_price(clean: Path, clean_reading: Reading) -> None:
    reading = clean_reading
    prices = {
        r["product_id"]: Decimal(r["list_price"])
        for r in csv.DictReader((clean / "products.csv").open())
    }
    returns = [line for line in reading.lines if line.quantity < 0]
    assert returns and all(line.unit_price == prices[line.product_id] for line in returns)
    assert all(line.transaction_id.startswith("R") for line in returns)


def test_refuses_to_overwrite_other_data_without_force(tmp_path: Path) -> None:
    _run(tmp_path, days=2)
    _run(tmp_path, days=2)  # same parameters: allowed, same bytes
    with pytest.raises(InputError, match="other parameters") as info:
        _run(tmp_path, days=3, seed=99)
    assert "--force" in info.value.one_line()
    generate(
        GenerateSettings(**(SMALL | {"days": 1, "seed": 99})), Storage(str(tmp_path)), force=True
    )
    assert len(list((tmp_path / "raw").glob("transactions_*.csv"))) == 1
