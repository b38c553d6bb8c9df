"""The pipeline the reconcile tests read (built once per session, see pipeline.py)."""

from __future__ import annotations

import pytest

from tests.reconcile.pipeline import Pipeline, build


@pytest.fixture(scope="session")
def pipeline(spark, kafka_broker, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return build(spark, kafka_broker, tmp_path_factory.mktemp("reconcile-root"))
