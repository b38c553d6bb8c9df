"""One small pipeline run shared by the reconcile and /metrics tests: generated days with
every kind of defect through the batch job, and through replay + stream one file at a time
(each file one micro-batch, so the generator's late rows arrive behind the watermark)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retailpipe.batch.job import run_batch
from retailpipe.errors import ServiceError
from retailpipe.generate.run import generate
from retailpipe.replay.run import ReplayOptions, load_and_replay
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import Storage
from retailpipe.stream.run import run_stream
from tests.stream.kafka_helpers import new_topic, stream_settings

PARAMS = GenerateSettings(
    days=2,
    start_date=dt.date(2026, 3, 2),
    stores=3,
    products=30,
    rows_per_day=150,
    seed=20,
    bad_row_rate=0.05,
    duplicate_rate=0.05,
    late_rate=0.08,
    workers=1,
)


@dataclass(frozen=True)
class Pipeline:
    root: Path
    settings: Settings


_built: dict[str, Pipeline] = {}
# Spark gives a Python worker 10 s to connect back; on a loaded 2-core machine the
# stateful step's worker can miss that. The stream resumes from its checkpoint and re-runs
# the batch with the same offsets, so another attempt gives the same result.
ATTEMPTS = 3


def _stream(spark: Any, settings: Settings) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            run_stream(spark, settings, available_now=True)
            return
        except ServiceError as exc:
            if "failed to connect back" not in str(exc) or attempt == ATTEMPTS:
                raise


def build(spark: Any, broker: str, root: Path) -> Pipeline:
    """Run the pipeline once per test session (both test modules ask for it)."""
    if "pipeline" in _built:
        return _built["pipeline"]
    settings = stream_settings(root, broker, new_topic("reconcile"))
    generate(PARAMS, Storage(str(root)))
    run_batch(spark, settings)
    for raw in sorted((root / "raw").glob("transactions_*.csv")):
        load_and_replay(settings, [raw], ReplayOptions(topic=settings.kafka.topic, mode="max"))
        _stream(spark, settings)
    _built["pipeline"] = Pipeline(root, settings)
    return _built["pipeline"]
