"""Fixtures for the dashboards: small generated data, curated Parquet, the app and a client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from retailpipe.generate.run import generate
from retailpipe.serve import create_app
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import Storage
from tests.conftest import test_settings
from tests.serve import oracle
from tests.serve.curated import copy_dimensions, write_curated

GENERATE = GenerateSettings(
    days=4,
    start_date=dt.date(2026, 3, 2),
    stores=4,
    products=40,
    rows_per_day=400,
    seed=11,
    bad_row_rate=0.01,
    duplicate_rate=0.01,
    late_rate=0.01,
    workers=1,
)


@pytest.fixture(scope="session")
def raw_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four small generated days with every kind of defect."""
    root = tmp_path_factory.mktemp("serve-raw")
    generate(GENERATE, Storage(str(root)))
    return root


@pytest.fixture(scope="session")
def lines(raw_root: Path) -> list[oracle.Line]:
    return oracle.load_lines(raw_root)


@pytest.fixture(scope="session")
def curated_root(
    raw_root: Path, lines: list[oracle.Line], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A storage root holding curated Parquet shaped like the batch job's output."""
    root = tmp_path_factory.mktemp("serve-curated")
    storage = Storage(str(root))
    write_curated(storage, lines)
    copy_dimensions(raw_root, storage)
    return root


def serve_settings(root: Path, **overrides: object) -> Settings:
    return test_settings(root, **{"serve.refresh_s": 0, **overrides})


@pytest.fixture
def app(curated_root: Path) -> Flask:
    return create_app(serve_settings(curated_root))


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client
