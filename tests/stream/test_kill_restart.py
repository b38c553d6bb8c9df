"""kill -9 `retailpipe stream` at random points (some mid-commit), restart, match the oracle."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from retailpipe.generate.run import generate
from retailpipe.replay.run import ReplayOptions, load_and_replay
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage
from tests.stream.kafka_helpers import cli, cli_env, new_topic, stream_settings
from tests.stream.oracle import csv_rows, oracle_from_rows, read_windows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 5
ROUND_TIMEOUT_S = 240.0
# A watermark longer than the data: cross-partition skew between batches makes nothing late,
# so the oracle is simply every valid row.
ARGS = ["stream", "--trigger", "1s", "--max-offsets-per-trigger", "90", "--watermark", "2d"]


def _versions(state: Path) -> int:
    return len(list(state.glob("state-*"))) and max(
        int(p.name[6:]) for p in state.glob("state-*") if p.name[6:].isdigit()
    )


def _committing(root: Path) -> bool:
    """True while the sink stages a state version or a window file (the commit of a batch)."""
    return any((root / "checkpoints" / "stream" / "sink").glob(".tmp-*")) or any(
        (root / "stream").glob(".windows-*.tmp-*")
    )


def _kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the Python driver and its Spark JVM together
    proc.wait(timeout=60)


def _one_round(
    root: Path, env: dict[str, str], during_commit: bool, rng: random.Random, log: Path
) -> bool:
    """Start the stream, kill -9 it mid-commit or at a random moment; True if mid-commit."""
    state = root / "checkpoints" / "stream" / "sink"
    before = _versions(state) if state.is_dir() else -1
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*cli(), *ARGS], env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + ROUND_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            progressed = state.is_dir() and _versions(state) > before
            if during_commit and progressed and _committing(root):
                return True
            if not during_commit and progressed:
                time.sleep(rng.uniform(0.0, 2.5))
                return False
            time.sleep(0.003)
        pytest.fail(f"the stream made no progress within {ROUND_TIMEOUT_S:.0f} s; see {log}")
    finally:
        if proc.poll() is None:
            _kill_group(proc)
    return False


def test_kill_minus_nine_and_restart_gives_exact_windows(kafka_broker, tmp_path: Path) -> None:
    settings = stream_settings(tmp_path, kafka_broker, new_topic("kill"))
    params = GenerateSettings(
        days=1,
        rows_per_day=1000,
        stores=4,
        products=80,
        bad_row_rate=0.02,
        duplicate_rate=0.02,
        workers=1,
    )
    generate(params, Storage(str(tmp_path)))
    files = sorted((tmp_path / "raw").glob("transactions_*.csv"))
    load_and_replay(settings, files, ReplayOptions(topic=settings.kafka.topic, mode="max"))
    env = cli_env(settings)
    rng = random.Random(7)
    log = tmp_path / "stream.log"

    mid_commit = [_one_round(tmp_path, env, i % 2 == 0, rng, log) for i in range(KILLS)]

    # Finish the backlog in as few batches as possible (the batch size may change on restart).
    finish = ["stream", "--available-now", "--watermark", "2d"]
    done = subprocess.run([*cli(), *finish], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sum(mid_commit) >= 1, "no kill landed inside a batch commit"
    seen = read_windows(tmp_path / "stream")
    assert max(Counter(k for k, _ in seen).values()) == 1, "a window appears twice"
    assert dict(seen) == oracle_from_rows(csv_rows(tmp_path / "raw"))
