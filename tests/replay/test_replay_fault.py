"""Fault: the broker is killed (-9) and restarted mid-replay; nothing acknowledged is lost."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from retailpipe.infra import kafka_broker
from retailpipe.replay.run import ReplayOptions, ReplaySummary, replay
from retailpipe.replay.source import read_source, select_files
from tests.fixtures.services import running_broker
from tests.replay.helpers import consume, make_data, new_topic


@pytest.mark.integration
@pytest.mark.slow
def test_kill_and_restart_broker_during_replay(tmp_path: Path) -> None:
    storage = make_data(tmp_path / "data", days=2, rows_per_day=500, bad=0.0)
    with running_broker(tmp_path / "runtime") as base:
        settings = base.model_copy(
            update={"storage": base.storage.model_copy(update={"root": storage.root})}
        )
        topic = new_topic()
        source = read_source(select_files(storage, None, None, None))
        acknowledged: list[str] = []
        result: dict[str, Any] = {}

        def record(message: Any) -> None:
            acknowledged.append(json.loads(message.value())["event_id"])

        def run() -> None:
            options = ReplayOptions(topic=topic, mode="rate", rate=100.0)
            try:
                result["summary"] = replay(settings, source, options, listener=record)
            except Exception as exc:  # reported by the assertions below
                result["error"] = exc

        sender = threading.Thread(target=run)
        sender.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(acknowledged) >= 150, result
        kafka_broker.kill(settings)
        killed_at = len(acknowledged)
        time.sleep(2)
        kafka_broker.start(settings, timeout_s=180)
        sender.join(timeout=300)
        assert not sender.is_alive()
        assert "error" not in result, result.get("error")
        summary: ReplaySummary = result["summary"]

        assert summary.failed == 0, summary.errors
        assert summary.delivered == summary.sent == len(source.rows)
        assert len(acknowledged) > killed_at, "deliveries continued after the restart"
        consumed = [
            json.loads(m.value())["event_id"]
            for m in consume(settings.kafka.bootstrap_servers, topic, len(source.rows))
        ]
        # Every acknowledged event is there, and nothing twice: the idempotent producer's
        # retries across the restart were not written again.
        assert Counter(consumed) == Counter(acknowledged)
        assert len(consumed) == len(source.rows)
