"""`retailpipe replay` stopped by a signal: it flushes, summarises and exits 130, and the
topic holds exactly what the summary says was delivered (docs/kafka.md). Ctrl-C is
tested in test_replay_kafka.py; this is the service manager's SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import processes
from tests.replay.helpers import consume, new_topic
from tests.replay.test_pacing import messages_in, write_day

pytestmark = pytest.mark.integration

ROWS = 400
RATE = 50  # 8 s for every row: the signal lands mid-replay
STOP_AFTER = 30  # messages in the topic before the signal
EXIT_TIMEOUT_S = 30.0


def stop_replay_with(signum: int, root: Path, bootstrap: str, topic: str) -> tuple[int, str]:
    """Start a paced `retailpipe replay`, send it `signum` once STOP_AFTER events are in the
    topic, and return its exit status and standard output."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "retailpipe", "replay", "--root", str(root)),
            *("--topic", topic, "--rate", str(RATE), "--bootstrap-servers", bootstrap),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while messages_in(bootstrap, topic) < STOP_AFTER:
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no events arrived within 120 s"
            time.sleep(0.1)
        process.send_signal(signum)
        out, err = process.communicate(timeout=EXIT_TIMEOUT_S)
    finally:
        processes.kill_group(process)
    assert "Traceback" not in err, err[-2000:]
    return process.returncode, out


def test_sigterm_flushes_summarises_and_loses_nothing(tmp_path: Path, kafka_broker: str) -> None:
    root = write_day(tmp_path, list(range(ROWS)))
    topic = new_topic()

    status, out = stop_replay_with(signal.SIGTERM, root, kafka_broker, topic)

    assert status == 130, out
    assert "interrupted; queued events were flushed" in out
    counts = {
        name: int(found.group(1).replace(",", ""))
        for name in ("sent", "delivered", "failed")
        if (found := re.search(rf"^\W*{name}\W+([\d,]+)", out, re.MULTILINE))
    }
    assert counts.keys() == {"sent", "delivered", "failed"}, out
    delivered = counts["delivered"]
    assert counts == {"sent": delivered, "delivered": delivered, "failed": 0}, out
    assert STOP_AFTER <= delivered < ROWS, out
    # The topic holds what the summary says: the first `delivered` rows in event-time
    # order, each once.
    events = [json.loads(m.value()) for m in consume(kafka_broker, topic, delivered, settle_s=1)]
    in_topic = messages_in(kafka_broker, topic)
    assert (len(events), in_topic) == (delivered, delivered), out
    ids = sorted(e["transaction_id"] for e in events)
    assert ids == [f"T{i:05d}" for i in range(delivered)]
