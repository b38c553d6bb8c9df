"""kill -9 `retailpipe stream` at random points (some mid-commit), restart, match the oracle."""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from retailpipe.generate.run import generate
from retailpipe.replay.run import ReplayOptions, load_and_replay
from retailpipe.settings import GenerateSettings
from retailpipe.storage import Storage
from tests import processes
from tests.stream.kafka_helpers import cli, cli_env, new_topic, stream_settings
from tests.stream.oracle import csv_rows, oracle_from_rows, read_windows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 3  # mid-commit, at a random moment, mid-commit again
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


def _one_round(
    root: Path, env: dict[str, str], during_commit: bool, rng: random.Random, log: Path
) -> bool:
    """Start the stream, kill -9 it mid-commit or at a random moment; True if mid-commit."""
    checkpoint = root / "checkpoints" / "stream"
    before = _last(checkpoint / "commits")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*cli(), *ARGS], env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + ROUND_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            progressed = _last(checkpoint / "commits") > before
            if during_commit and progressed and _committing(checkpoint):
                return True
            if not during_commit and progressed:
                time.sleep(rng.uniform(0.0, 2.5))
                return False
            time.sleep(0.003)
        pytest.fail(f"the stream made no progress within {ROUND_TIMEOUT_S:.0f} s; see {log}")
    finally:
        if proc.poll() is None:
            processes.kill_group(proc)  # the Python driver and its Spark JVM together
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
    finish = ["stream", "--available-now"]
    done = processes.run([*cli(), *finish], env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sum(mid_commit) >= 1, "no kill landed inside a batch commit"
    seen = read_windows(tmp_path / "stream")
    assert max(Counter(k for k, _ in seen).values()) == 1, "a window appears twice"
    assert dict(seen) == oracle_from_rows(csv_rows(tmp_path / "raw"))
