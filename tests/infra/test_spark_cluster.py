"""The batch job on a real Spark standalone cluster (master + worker on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads
import pytest

from retailpipe.generate.run import generate
from retailpipe.infra.java import java_executable
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import AGGREGATES, Storage
from tests import processes
from tests.batch.oracle import expected_aggregates, keyed, read_truth
from tests.conftest import test_settings as settings_for  # not collected as a test
from tests.fixtures.hdfs import free_port

RETAILPIPE = Path(sys.executable).with_name("retailpipe")
START_TIMEOUT_S = 240.0


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _cluster_env() -> dict[str, str]:
    return {
        **os.environ,
        "SPARK_HOME": str(_spark_home()),
        # The pip distribution has no build folders for the launcher to guess this from.
        "SPARK_SCALA_VERSION": "2.13",
        "SPARK_LOCAL_IP": "127.0.0.1",
        # Executors must run the driver's Python (the venv's).
        "PYSPARK_PYTHON": sys.executable,
    }


def _master_state(web_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=5) as response:
        return json.load(response)


@contextmanager
def standalone_cluster(workdir: Path, workers: int = 1) -> Iterator[tuple[str, int]]:
    """A master and `workers` workers (1 core, 1 GiB each) from PySpark's own jars; yields
    (url, web port)."""
    port, web = free_port(), free_port()
    classpath = str(_spark_home() / "jars" / "*")
    java = [str(java_executable()), "-Xmx256m", "-cp", classpath]
    url = f"spark://127.0.0.1:{port}"
    commands = {
        "master": [
            *java,
            "-Dspark.master.rest.enabled=false",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(web),
        ],
    }
    for n in range(workers):
        commands[f"worker{n or ''}"] = [
            *java,
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            "127.0.0.1",
            "--cores",
            "1",
            "--memory",
            "1g",
            "--webui-port",
            str(free_port()),
            "--work-dir",
            str(workdir / "work"),
            url,
        ]
    daemons: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            with (workdir / f"{name}.log").open("wb") as log:
                daemons[name] = subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=_cluster_env(),
                    start_new_session=True,
                )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            for name, process in daemons.items():
                if process.poll() is not None:
                    log_text = (workdir / f"{name}.log").read_text(errors="replace")
                    pytest.fail(f"Spark {name} exited: {log_text[-2000:]}")
            try:
                if _master_state(web)["aliveworkers"] >= workers:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{workers} Spark worker(s) not registered in {START_TIMEOUT_S:.0f} s")
            time.sleep(1)
        yield url, web
    finally:
        # Each daemon leads its own process group, which holds the executors it launched.
        for process in daemons.values():
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    """One master and two workers for this module's tests (starting them is the slow part);
    yields (url, web port, work folder). Each test looks only at the applications it ran."""
    workdir = tmp_path_factory.mktemp("spark-cluster")
    with standalone_cluster(workdir, workers=2) as (url, web):
        yield url, web, workdir


def _app_ids(web: int) -> set[str]:
    return {app["id"] for app in _master_state(web)["completedapps"]}


def _new_apps(web: int, before: set[str]) -> list[dict[str, Any]]:
    """The applications that completed since `before` (the ids completed then)."""
    return [app for app in _master_state(web)["completedapps"] if app["id"] not in before]


def _raw_set(root: Path) -> Storage:
    storage = Storage(str(root))
    settings = GenerateSettings(
        days=2,
        rows_per_day=300,
        stores=3,
        products=20,
        start_date=dt.date(2026, 5, 1),
        duplicate_rate=0.02,
        late_rate=0.02,
        workers=1,
    )
    generate(settings, storage)
    return storage


def _table(storage: Storage, name: str) -> list[dict[str, Any]]:
    rows = pads.dataset(storage.path(name), format="parquet").to_table().to_pylist()
    return sorted(rows, key=lambda row: tuple(str(value) for value in row.values()))


def _run_batch_on(master: str, root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **_cluster_env(),
        "RETAILPIPE_STORAGE__ROOT": str(root),
        "RETAILPIPE_SPARK__MASTER": master,
        "RETAILPIPE_SPARK__DRIVER_MEMORY": "768m",
        "RETAILPIPE_SPARK__SHUFFLE_PARTITIONS": "2",
        "RETAILPIPE_RUNTIME_DIR": str(tmp_path / ".runtime"),
    }
    env.pop("RETAILPIPE_CONFIG", None)
    conf = ["spark.executor.memory=512m", "spark.cores.max=1", "spark.driver.host=127.0.0.1"]
    command = [str(RETAILPIPE), "batch", *(arg for pair in conf for arg in ("--conf", pair))]
    return processes.run(command, env=env, timeout=900, cwd=tmp_path)


@pytest.mark.integration
@pytest.mark.slow
def test_batch_on_a_standalone_cluster_equals_local_mode(
    spark: Any, cluster: tuple[str, int, Path], tmp_path: Path
) -> None:
    from retailpipe.batch.job import run_batch

    master, web, workdir = cluster
    on_cluster = _raw_set(tmp_path / "cluster")
    in_local = Storage(str(tmp_path / "local"))
    shutil.copytree(on_cluster.path("raw"), in_local.path("raw"))

    before = _app_ids(web)
    result = _run_batch_on(master, on_cluster.local_root, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    apps = _new_apps(web, before)
    # The job really ran on the cluster, and its executors on a worker.
    assert [app["name"] for app in apps] == ["retailpipe-batch"]
    assert apps[0]["state"] == "FINISHED"
    executor_logs = list((workdir / "work").glob(f"{apps[0]['id']}/*/stderr"))
    assert executor_logs, "no executor ran on a worker"

    local_settings: Settings = settings_for(in_local.local_root)
    run_batch(spark, local_settings)

    for name in ("transactions", *AGGREGATES):
        assert _table(on_cluster, name) == _table(in_local, name), name
    # And both equal the independent oracle, not just each other.
    expected = expected_aggregates(read_truth(on_cluster.path("raw")))
    for name in expected:
        assert keyed(_table(on_cluster, name)) == expected[name], name


@pytest.mark.integration
@pytest.mark.slow
def test_stream_on_a_two_worker_cluster_keeps_its_state_on_the_executors(
    kafka_broker: str, cluster: tuple[str, int, Path], tmp_path: Path
) -> None:
    from retailpipe.replay.run import ReplayOptions, load_and_replay
    from tests.stream.kafka_helpers import new_topic, stream_settings
    from tests.stream.oracle import csv_rows, oracle_from_rows, read_windows

    root = tmp_path / "cluster"
    storage = _raw_set(root)
    settings = stream_settings(root, kafka_broker, new_topic("cluster"))
    raw_files = sorted(storage.path("raw").glob("transactions_*.csv"))
    load_and_replay(settings, raw_files, ReplayOptions(topic=settings.kafka.topic, mode="max"))

    master, web, workdir = cluster
    before = _app_ids(web)
    env = {
        **_cluster_env(),
        "RETAILPIPE_STORAGE__ROOT": str(root),
        "RETAILPIPE_KAFKA__BOOTSTRAP_SERVERS": kafka_broker,
        "RETAILPIPE_KAFKA__TOPIC": settings.kafka.topic,
        "RETAILPIPE_SPARK__MASTER": master,
        "RETAILPIPE_SPARK__DRIVER_MEMORY": "768m",
        "RETAILPIPE_SPARK__SHUFFLE_PARTITIONS": "2",
        "RETAILPIPE_STREAM__MAX_OFFSETS_PER_TRIGGER": "300",
        "RETAILPIPE_RUNTIME_DIR": str(tmp_path / ".runtime"),
    }
    env.pop("RETAILPIPE_CONFIG", None)
    conf = ["spark.executor.memory=512m", "spark.cores.max=2", "spark.driver.host=127.0.0.1"]
    command = [
        str(RETAILPIPE),
        "stream",
        "--available-now",
        *(arg for pair in conf for arg in ("--conf", pair)),
    ]
    result = processes.run(command, env=env, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    apps = _new_apps(web, before)

    assert [app["name"] for app in apps] == ["retailpipe-stream"]
    # Both workers ran an executor. On a cluster the driver runs no task, so the state
    # store versions in the checkpoint were written by the executors' stateful tasks.
    executor_logs = list((workdir / "work").glob(f"{apps[0]['id']}/*/stderr"))
    assert len(executor_logs) == 2, executor_logs
    state = storage.path("checkpoints") / "state" / "0"
    assert len(list(state.glob("*/*.changelog"))) >= 2, "no state store version was written"
    seen = read_windows(storage.path("stream"))
    assert len(seen) == len(dict(seen)), "a window appears twice"
    assert dict(seen) == oracle_from_rows(csv_rows(storage.path("raw")))
