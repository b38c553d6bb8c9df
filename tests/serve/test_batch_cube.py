"""The batch API answers from the published aggregates alone (the cube and its breakdowns),
exactly: checked against the plain-Python oracle over the raw CSV, on a root without line
items."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from retailpipe.serve import create_app
from tests.serve import oracle
from tests.serve.batch_checks import check_view, get
from tests.serve.conftest import serve_settings


@pytest.fixture(scope="module")
def no_lines_root(curated_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The curated root without `curated/transactions/`: any figure read from line items
    would fail or change."""
    root = tmp_path_factory.mktemp("serve-no-lines")
    shutil.copytree(curated_root, root, dirs_exist_ok=True)
    shutil.rmtree(root / "curated" / "transactions")
    return root


@pytest.fixture
def cube_client(no_lines_root: Path) -> FlaskClient:
    return create_app(serve_settings(no_lines_root), ["batch"]).test_client()


def test_the_fixture_has_receipts_a_plain_sum_would_count_twice(
    lines: list[oracle.Line],
) -> None:
    """Receipts on two sale dates (a late line keeps its own timestamp) and receipts over
    several categories: summing per-day or per-category counts would overcount, so the
    views below can fail."""
    days = {(x.transaction_id, x.sale_date) for x in lines}
    receipts = {x.transaction_id for x in lines}
    assert len(days) > len(receipts)
    categories = {(x.transaction_id, x.category) for x in lines}
    assert len(categories) > len(receipts)


@pytest.mark.parametrize(
    "view",
    [
        {},
        {"store": "S001"},
        {"category": "grocery"},
        {"store": "S004", "category": "home"},
        {"first": 1, "last": 3, "category": "beverages"},
        {"first": 2, "last": 3, "store": "S002"},
    ],
    ids=["all", "store", "category", "store+category", "days+category", "days+store"],
)
def test_every_figure_equals_the_oracle_without_line_items(
    cube_client: FlaskClient, lines: list[oracle.Line], view: dict
) -> None:
    days = sorted({x.sale_date for x in lines})
    start = days[view["first"]] if "first" in view else None
    end = days[view["last"]] if "last" in view else None
    check_view(cube_client, lines, start, end, view.get("store"), view.get("category"))


def test_a_category_counts_the_receipts_with_a_line_in_it(
    cube_client: FlaskClient, lines: list[oracle.Line]
) -> None:
    """Per category, the receipts holding it; over all categories, each receipt once."""
    per_category = Counter(c for _, c in {(x.transaction_id, x.category) for x in lines})
    for category, receipts in per_category.items():
        body = get(cube_client, "/api/batch/kpis", category=category)
        assert body["kpis"]["transactions"] == receipts, category
    total = get(cube_client, "/api/batch/kpis")["kpis"]["transactions"]
    assert total == len({x.transaction_id for x in lines}) < sum(per_category.values())
