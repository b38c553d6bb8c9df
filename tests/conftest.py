"""Shared fixtures: one SparkSession per test run, settings rooted in a temp folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from retailpipe.settings import Settings, load_settings

# Stage-specific fixtures live in plugin modules so each stays with its own stage.
pytest_plugins = ["tests.fixtures.services", "tests.fixtures.hdfs"]

# Spark's Python workers run this interpreter (with the project's packages), as in the CLI.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With CI set, a skipped test fails: CI installs everything the suite needs, so a skip
    there means a test did not test its claim."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped with CI set (a skip is a failure there): {reason}"


def test_settings(root: Path, **overrides: object) -> Settings:
    """Settings for a test: storage under `root`, a small local Spark."""
    flat: dict[str, object] = {
        "storage.root": str(root),
        "spark.master": "local[2]",
        "spark.shuffle_partitions": 2,
        "runtime_dir": str(root / ".runtime"),
    }
    flat.update(overrides)
    return load_settings(None, flat)


@pytest.fixture(scope="session")
def spark_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return test_settings(tmp_path_factory.mktemp("spark-root"))


@pytest.fixture(scope="session")
def spark(spark_settings: Settings) -> Iterator[object]:
    """The one SparkSession of the test run (local[2], 2 shuffle partitions, UTC, UI off).

    It carries Spark's Kafka connector so streaming tests can share it.
    """
    from retailpipe.spark import create_session, with_kafka

    try:
        import retailpipe.infra.jars  # noqa: F401
    except ImportError:  # the connector cache lands with the Kafka stage
        add_ons = []
    else:
        add_ons = [with_kafka]
    # Test data is small: the session starts the way a small `batch` run does (C1 only).
    session = create_session(spark_settings, "tests", add_ons=add_ons, input_bytes=0)
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings rooted in this test's own temp folder."""
    return test_settings(tmp_path / "store")
