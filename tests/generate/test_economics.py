"""The generated chain looks like a retailer: the economics targets, checked on raw CSV."""

from __future__ import annotations

import csv
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from retailpipe.errors import ConfigError
from retailpipe.generate.run import generate
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage
from tests.generate.oracle import Economics, economics

# 30 days at the default size (12 stores, 400 SKUs, 20,000 lines a day): the targets' setting.
SEEDS = (42, 2027)


@pytest.fixture(scope="module", params=SEEDS, ids=lambda seed: f"seed{seed}")
def month(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(f"month-{request.param}")
    generate(GenerateSettings(seed=request.param, workers=2), Storage(str(root)))
    return root / "raw"


@pytest.fixture(scope="module")
def figures(month: Path) -> Economics:
    return economics(month)


def _prices(raw: Path) -> dict[str, tuple[str, Decimal]]:
    with (raw / "products.csv").open(newline="") as handle:
        return {
            r["product_id"]: (r["category"], Decimal(r["list_price"]))
            for r in csv.DictReader(handle)
        }


def test_no_sku_makes_more_than_3_percent_of_revenue(figures: Economics) -> None:
    assert max(figures.revenue_by_sku.values()) / figures.revenue <= Decimal("0.03")


def test_top_fifth_of_skus_make_60_to_85_percent_of_revenue(figures: Economics) -> None:
    assert Decimal("0.60") <= figures.top_share(Decimal("0.2")) <= Decimal("0.85")


def test_every_category_makes_2_to_40_percent_of_revenue(figures: Economics) -> None:
    assert len(figures.revenue_by_category) == 8
    for category, revenue in figures.revenue_by_category.items():
        assert Decimal("0.02") <= revenue / figures.revenue <= Decimal("0.40"), category


def test_grocery_and_beverages_sell_the_most_units(figures: Economics) -> None:
    units = figures.units_by_category
    food = units["grocery"] + units["beverages"]
    assert all(
        food > n for category, n in units.items() if category not in {"grocery", "beverages"}
    )
    assert food > sum(units.values()) / 2


def test_baskets_and_returns(figures: Economics) -> None:
    assert 2 <= figures.lines / figures.receipts <= 6
    assert 0.005 <= figures.return_lines / figures.lines <= 0.05


def test_unit_velocity_falls_with_price_within_each_category(
    month: Path, figures: Economics
) -> None:
    prices = _prices(month)
    for category in figures.units_by_category:
        skus = sorted((p, sku) for sku, (c, p) in prices.items() if c == category)
        half = len(skus) // 2
        cheap = sum(figures.units_by_sku.get(sku, 0) for _, sku in skus[:half])
        dear = sum(figures.units_by_sku.get(sku, 0) for _, sku in skus[-half:])
        assert cheap > 2 * dear, category
    best_seller = max(figures.units_by_sku, key=figures.units_by_sku.__getitem__)
    assert prices[best_seller][0] in {"grocery", "beverages", "household"}


SMALL: dict[str, Any] = {
    "days": 7,
    "rows_per_day": 4000,
    "stores": 4,
    "products": 200,
    "seed": 3,
    "workers": 1,
}


def test_grocery_profile_sells_more_food_than_general(tmp_path: Path) -> None:
    shares = {}
    for profile in ("general", "grocery"):
        generate(GenerateSettings(**SMALL), Storage(str(tmp_path / profile)), profile=profile)
        found = economics(tmp_path / profile / "raw")
        food = found.revenue_by_category["grocery"] + found.revenue_by_category["beverages"]
        shares[profile] = food / found.revenue
        manifest = json.loads((tmp_path / profile / "raw" / "_manifest.json").read_text())
        assert manifest["parameters"]["profile"] == profile
    assert shares["grocery"] > Decimal("0.55") > Decimal("0.40") > shares["general"]


def test_unknown_profile_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown generate profile") as info:
        generate(GenerateSettings(**SMALL), Storage(str(tmp_path)), profile="pharmacy")
    assert "general, grocery" in info.value.one_line()
    assert not (tmp_path / "raw").exists()


# sha256 (first 128 bits) of every file of a small seeded run with every kind of defect.
# A change here means the generator's output changed: if intended, update the digests
# in the same commit.
GOLDEN_PARAMS: dict[str, Any] = {
    "days": 2,
    "rows_per_day": 600,
    "stores": 3,
    "products": 30,
    "seed": 5,
    "bad_row_rate": 0.02,
    "duplicate_rate": 0.01,
    "late_rate": 0.01,
}
GOLDEN: dict[str, str] = {
    "_manifest.json": "b4d720b7ec09a5a7a31abf8cf0d48687",
    "products.csv": "607beed4109132b0610b54aaeb0929b6",
    "stores.csv": "81d39ff6228e09d9c1e587e3f1008735",
    "transactions_2026-01-01.csv": "7bebfa28e0508d108ee550731d5f8c08",
    "transactions_2026-01-02.csv": "8b4b13eb1923ea86f87ac82bcc234457",
}


@pytest.mark.parametrize("workers", [1, 2])
def test_golden_checksums(tmp_path: Path, workers: int) -> None:
    generate(GenerateSettings(**GOLDEN_PARAMS, workers=workers), Storage(str(tmp_path)))
    raw = tmp_path / "raw"
    found = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:32]
        for p in sorted(raw.iterdir())
        if p.name != "_manifest.json"
    }
    manifest = json.loads((raw / "_manifest.json").read_text())
    del manifest["generator"]  # carries the package version
    found["_manifest.json"] = hashlib.sha256(json.dumps(manifest).encode()).hexdigest()[:32]
    assert found == GOLDEN


def test_cli_profile_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from retailpipe.cli.app import app

    args = ["generate", "--days", "1", "--rows-per-day", "500", "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--profile", "grocery", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "raw" / "_manifest.json").read_text())
    assert manifest["parameters"]["profile"] == "grocery"
    refused = CliRunner().invoke(app, [*args, "--profile", "pharmacy", "--out", str(tmp_path)])
    assert refused.exit_code != 0
    assert "unknown generate profile 'pharmacy'" in refused.output
    assert "general, grocery" in refused.output
