"""Batch fixtures: a small generated data set with every kind of defect."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from retailpipe.generate.run import generate
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import Storage
from tests.conftest import test_settings


def make_raw(root: Path, days: int = 3, rows: int = 1500) -> Storage:
    params = GenerateSettings(
        days=days,
        rows_per_day=rows,
        stores=5,
        products=60,
        start_date=dt.date(2026, 3, 2),
        bad_row_rate=0.02,
        duplicate_rate=0.01,
        late_rate=0.02,
        workers=1,
        seed=7,
    )
    storage = Storage(str(root))
    generate(params, storage)
    return storage


@pytest.fixture
def raw_settings(tmp_path: Path) -> Settings:
    """Settings whose storage root holds 3 generated days with defects."""
    root = tmp_path / "store"
    make_raw(root)
    return test_settings(root)
