"""kill -9 `retailpipe stream` at a random moment and mid-publish, restart, match the oracle."""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from retailpipe.pause import STREAM_MID_PUBLISH
from tests import processes
from tests.stream.kafka_helpers import (
    cli,
    cli_env,
    new_topic,
    replay_generated_day,
    stream_settings,
)
from tests.stream.oracle import csv_rows, oracle_from_rows, read_windows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROUND_TIMEOUT_S = 240.0
# A watermark longer than the data: cross-partition skew between batches makes nothing late,
# so the oracle is simply every valid row.
ARGS = ["stream", "--trigger", "1s", "--max-offsets-per-trigger", "90"]


def _last(folder: Path) -> int:
    """The highest batch id in one of Spark's logs (offsets/, commits/); -1 when empty."""
    ids = [int(p.name) for p in folder.glob("*") if p.name.isdigit()] if folder.is_dir() else []
    return max(ids, default=-1)


def _committing(checkpoint: Path) -> bool:
    """True between the state store's commit of a batch and Spark's: the executors have
    written state version N+1 for batch N (RocksDB `N+1.changelog`), the sink is publishing,
    and commits/N is not there yet. A kill here makes Spark run batch N again from state N."""
    running = _last(checkpoint / "offsets")
    if running <= _last(checkpoint / "commits"):
        return False
    return any((checkpoint / "state" / "0").glob(f"*/{running + 1}.changelog"))


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*cli(), *ARGS], env=env, stdout=out, stderr=out, start_new_session=True
        )


def _kill_at_random(root: Path, env: dict[str, str], rng: random.Random, log: Path) -> None:
    """Start the stream and kill -9 it at a random moment after its first new commit."""
    checkpoint = root / "checkpoints" / "stream"
    before = _last(checkpoint / "commits")
    proc = _start(env, log)
    try:
        deadline = time.monotonic() + ROUND_TIMEOUT_S
        while _last(checkpoint / "commits") <= before:
            assert proc.poll() is None, f"the stream stopped; see {log}"
            assert time.monotonic() < deadline, f"no commit within {ROUND_TIMEOUT_S:.0f} s"
            time.sleep(0.1)
        time.sleep(rng.uniform(0.0, 2.5))
    finally:
        processes.kill_group(proc)  # the Python driver and its Spark JVM together


def _kill_mid_publish(root: Path, env: dict[str, str], log: Path) -> None:
    """Start the stream, let its sink stop at the test-only pause point (a batch's windows
    published, its store clocks not, its commit not written) and kill -9 it there."""
    checkpoint = root / "checkpoints" / "stream"
    marker = root / "paused"
    proc = _start({**env, STREAM_MID_PUBLISH: str(marker)}, log)
    try:
        deadline = time.monotonic() + ROUND_TIMEOUT_S
        while not marker.exists():
            assert proc.poll() is None, f"the stream stopped; see {log}"
            assert time.monotonic() < deadline, f"no batch within {ROUND_TIMEOUT_S:.0f} s"
            time.sleep(0.1)
        # The kill lands where it matters: the executors committed the batch's state,
        # Spark did not commit the batch, and the sink is half way through publishing.
        assert _committing(checkpoint), "the pause point is not inside a batch commit"
    finally:
        processes.kill_group(proc)


def test_kill_minus_nine_and_restart_gives_exact_windows(kafka_broker, tmp_path: Path) -> None:
    settings = stream_settings(tmp_path, kafka_broker, new_topic("kill"))
    replay_generated_day(settings, tmp_path, rows_per_day=1000, products=80)
    env = cli_env(settings)
    rng = random.Random(7)
    log = tmp_path / "stream.log"

    _kill_at_random(tmp_path, env, rng, log)
    _kill_mid_publish(tmp_path, env, log)

    # Finish the backlog in as few batches as possible (the batch size may change on restart).
    finish = ["stream", "--available-now"]
    done = processes.run([*cli(), *finish], env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = read_windows(tmp_path / "stream")
    assert max(Counter(k for k, _ in seen).values()) == 1, "a window appears twice"
    assert dict(seen) == oracle_from_rows(csv_rows(tmp_path / "raw"))
