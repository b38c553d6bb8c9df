"""`retailpipe stream` with its outputs and checkpoint on HDFS, killed once, equals the oracle."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from retailpipe.fs import HadoopFiles, atomic_write
from retailpipe.infra import hdfs
from retailpipe.settings import Settings
from tests import processes
from tests.stream.kafka_helpers import (
    cli,
    cli_env,
    new_topic,
    replay_generated_day,
    stream_settings,
)
from tests.stream.oracle import csv_rows, duplicate_rows, oracle_from_rows, read_windows

pytestmark = pytest.mark.integration

FIRST_RUN_TIMEOUT_S = 480.0
# A watermark longer than the data: nothing is late, so the oracle is every valid row.
ARGS = ["stream", "--available-now", "--max-offsets-per-trigger", "150", "--watermark", "2d"]
BATCH_LINE = re.compile(r"stream\.sink: batch (\d+): ")


def test_hadoop_files_replace_list_read_delete(spark, hdfs_cluster: str) -> None:
    files = HadoopFiles(spark)
    folder = f"{hdfs_cluster}/files-test-{os.getpid()}"
    target = files.join(folder, "a.bin")
    atomic_write(files, target, b"old")
    atomic_write(files, target, b"new bytes \x00\xff")  # over an existing file
    assert files.read_bytes(target) == b"new bytes \x00\xff"
    assert files.names(folder) == ["a.bin"]  # no temp file left behind
    files.mkdirs(files.join(folder, ".tmp-x"))
    files.write_bytes(files.join(folder, ".tmp-x", "meta.json"), b"{}")
    files.rename(files.join(folder, ".tmp-x"), files.join(folder, "state-1"))
    assert files.is_dir(files.join(folder, "state-1")) and not files.exists(f"{folder}/.tmp-x")
    assert files.names(folder) == ["a.bin", "state-1"]
    files.delete(folder)
    assert not files.exists(folder) and files.names(folder) == []


def _batches(log: Path) -> list[int]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [int(m.group(1)) for m in BATCH_LINE.finditer(text)]


def _run_until_second_batch_then_kill(env: dict[str, str], log: Path) -> list[int]:
    """Start the stream; once two batches are committed, SIGKILL it (driver and JVM)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*cli(), *ARGS], env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + FIRST_RUN_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None and len(_batches(log)) < 2:
            time.sleep(0.05)
        assert proc.poll() is None, f"the stream ended before it was killed; see {log}"
        assert len(_batches(log)) >= 2, f"no two batches within {FIRST_RUN_TIMEOUT_S:.0f} s"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    return _batches(log)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith((".", "_"))}


def _ls(settings: Settings, uri: str, namenode: str) -> str:
    return hdfs.fs_shell(settings, "-ls", "-R", uri, uri=namenode)


@pytest.mark.slow
def test_stream_on_hdfs_killed_and_restarted_equals_the_oracle(
    kafka_broker: str, hdfs_cluster: str, hdfs_settings: Settings, tmp_path: Path
) -> None:
    local = stream_settings(tmp_path, kafka_broker, new_topic("hdfs"))
    replay_generated_day(local, tmp_path, rows_per_day=1200, products=60)
    root = f"{hdfs_cluster}/stream-{os.getpid()}"
    serving = tmp_path / "serving"
    env = {
        **cli_env(local),
        "RETAILPIPE_STORAGE__ROOT": root,
        "RETAILPIPE_STORAGE__SERVING_ROOT": str(serving),
    }
    log = tmp_path / "stream.log"
    hdfs.fs_shell(hdfs_settings, "-mkdir", "-p", f"{root}/raw", uri=hdfs_cluster)
    stores = tmp_path / "raw" / "stores.csv"
    hdfs.fs_shell(hdfs_settings, "-put", str(stores), f"{root}/raw/", uri=hdfs_cluster)

    before_kill = _run_until_second_batch_then_kill(env, log)
    # A serving copy that fell behind: the restart must bring it back to HDFS's files.
    assert _files(serving / "stream"), "the killed run wrote no serving copy"
    for day_file in (serving / "stream").iterdir():
        day_file.unlink()
    (serving / "stream" / "windows-1999-01-01.parquet").write_bytes(b"not on HDFS")
    done = processes.run([*cli(), *ARGS], env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    after = [int(m.group(1)) for m in BATCH_LINE.finditer(done.stderr)]
    assert after and max(after) > max(before_kill), "the restart did not resume the stream"
    assert not (tmp_path / "stream").exists() and not (tmp_path / "checkpoints").exists()
    listing = _ls(hdfs_settings, root, hdfs_cluster)
    for part in (
        "checkpoints/stream/offsets/",
        "checkpoints/stream/commits/",
        "checkpoints/stream/state/0/",
        "checkpoints/stream/retailpipe-stream.json",
        "stream/windows-",
        "runs/stream-",
    ):
        assert f"{root}/{part}" in listing, part
    copy = tmp_path / "copy"
    copy.mkdir()
    hdfs.fs_shell(hdfs_settings, "-get", f"{root}/stream/*.parquet", str(copy), uri=hdfs_cluster)
    hdfs.fs_shell(
        hdfs_settings, "-get", f"{root}/runs", str(tmp_path / "hdfs-runs"), uri=hdfs_cluster
    )
    seen = read_windows(copy)
    assert max(Counter(k for k, _ in seen).values()) == 1, "a window appears twice"
    assert dict(seen) == oracle_from_rows(csv_rows(tmp_path / "raw"))
    # The dashboards' local copy holds the very files on HDFS, and the store names.
    assert _files(serving / "stream") == _files(copy)
    assert _files(serving / "runs") == _files(tmp_path / "hdfs-runs")
    assert (serving / "raw" / "stores.csv").read_bytes() == (
        tmp_path / "raw" / "stores.csv"
    ).read_bytes()
    runs = sorted((tmp_path / "hdfs-runs").glob("stream-*.json"))
    manifests = [json.loads(p.read_text()) for p in runs]
    assert [m["status"] for m in manifests][-1] == "stopped"
    assert manifests[-1]["duplicates"] == duplicate_rows(csv_rows(tmp_path / "raw")) > 0
