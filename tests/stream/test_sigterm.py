"""SIGTERM to `retailpipe stream` mid-batch: the batch finishes, the run exits 0 with no
stack trace, the published windows are exactly those of the committed batches, and a
restart finishes the backlog with every window counted once (docs/stream.md, "Stopping")."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from retailpipe.stream.run import run_stream
from tests import processes
from tests.stream.kafka_helpers import (
    batch_offsets,
    cli,
    cli_env,
    new_topic,
    replay_generated_day,
    stream_settings,
    topic_messages,
)
from tests.stream.oracle import csv_rows, oracle_from_rows, read_windows, replay_batches

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Small batches back to back: a backlog of ~400 events read 100 at a time, a trigger shorter
# than a batch, so the signal lands while a batch runs.
ARGS = ["stream", "--trigger", "1s", "--max-offsets-per-trigger", "100"]
WATERMARK_S = 600  # the default stream.watermark, 10m
START_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 90.0
# A Java stack frame ("\tat org.apache...(File.java:12)") or a Python traceback.
STACK_TRACE = re.compile(r"^\s+at [\w$.<>]+\(|^Traceback ", re.MULTILINE)
OUTPUTS = ("stream", "stream_late", "stream_stores", "stream_dead_letter")


def _last(folder: Path) -> int:
    """The highest batch id in one of Spark's logs (offsets/, commits/); -1 when empty."""
    ids = [int(p.name) for p in folder.glob("*") if p.name.isdigit()] if folder.is_dir() else []
    return max(ids, default=-1)


def _signal_mid_batch(process: subprocess.Popen[bytes], checkpoint: Path, log: Path) -> int:
    """Once a batch has committed and the next one runs, SIGTERM the driver (the process,
    as `kill PID` does, not its group: the JVM is the driver's to stop). Returns the id of
    the batch that was running."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert process.poll() is None, f"the stream ended early: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no batch ran within {START_TIMEOUT_S:.0f} s"
        committed, running = _last(checkpoint / "commits"), _last(checkpoint / "offsets")
        if committed >= 0 and running > committed:
            process.send_signal(signal.SIGTERM)
            return running
        time.sleep(0.02)


class StoppedLate(AssertionError):
    """The run went on past the batch that was running when the signal came."""


def test_sigterm_finishes_the_batch_and_a_restart_counts_each_event_once(
    spark: SparkSession, kafka_broker: str, tmp_path: Path
) -> None:
    settings = stream_settings(tmp_path, kafka_broker, new_topic("sigterm"))
    replay_generated_day(settings, tmp_path, rows_per_day=400, products=50)
    env = cli_env(settings)
    checkpoint = tmp_path / "checkpoints" / "stream"
    out_log, err_log = tmp_path / "stream.out", tmp_path / "stream.err"

    with out_log.open("wb") as out, err_log.open("wb") as err:
        process = subprocess.Popen(
            [*cli(), *ARGS], env=env, stdout=out, stderr=err, start_new_session=True
        )
    try:
        running = _signal_mid_batch(process, checkpoint, err_log)
        signalled = time.monotonic()
        status = process.wait(timeout=STOP_TIMEOUT_S)
        stopped_in = time.monotonic() - signalled
    finally:
        processes.kill_group(process)  # whatever is left of the driver and its JVM
    stdout, stderr = out_log.read_text(), err_log.read_text()

    assert status == 0, stderr[-3000:]
    assert "SIGTERM received: stopping after the current batch" in stderr
    assert not STACK_TRACE.search(stderr), stderr[-3000:]
    assert re.search(r"status\W+stopped", stdout), stdout
    runs = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("stream-*.json")]
    assert [run["status"] for run in runs] == ["stopped"]
    assert stopped_in < STOP_TIMEOUT_S

    # What a reader sees now is exactly the committed batches' result, in whole files. The
    # batch after them may have been started and interrupted (harmless: it runs again),
    # but not published.
    committed = _last(checkpoint / "commits")
    assert _last(checkpoint / "offsets") - committed in (0, 1)
    leftovers = [p for o in OUTPUTS for p in (tmp_path / o).glob("**/*") if ".tmp-" in p.name]
    assert not leftovers, leftovers
    seen = read_windows(tmp_path / "stream")
    assert seen and max(Counter(k for k, _ in seen).values()) == 1, "a window appears twice"
    ends = batch_offsets(checkpoint, settings.kafka.topic)[: committed + 1]
    expected, _ = replay_batches(topic_messages(settings), ends, WATERMARK_S)
    assert dict(seen) == expected

    # A restart finishes the backlog; nothing is counted twice.
    run_stream(spark, settings, available_now=True)
    seen = read_windows(tmp_path / "stream")
    assert max(Counter(k for k, _ in seen).values()) == 1, "a window appears twice"
    assert dict(seen) == oracle_from_rows(csv_rows(tmp_path / "raw"))

    # "Stopping after the current batch" means that batch, not the backlog behind it.
    if committed > running:
        raise StoppedLate(f"SIGTERM came during batch {running}; the run went on to {committed}")
    assert committed == running, f"batch {running} was running, the last commit is {committed}"
    assert _last(checkpoint / "commits") > committed, "the restart found no backlog"
