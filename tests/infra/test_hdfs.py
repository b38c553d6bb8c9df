"""The development HDFS: start/stop, uploads, Spark reading and writing hdfs:// URIs."""

from __future__ import annotations

import csv
import datetime as dt
import json
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retailpipe.cli.app import app
from retailpipe.errors import ServiceError
from retailpipe.generate.run import generate
from retailpipe.infra import hdfs
from retailpipe.settings import GenerateSettings, Settings, load_settings
from retailpipe.storage import Storage
from tests.fixtures.hdfs import free_port


def _raw_set(root: Path, days: int = 2, rows: int = 300) -> Storage:
    storage = Storage(str(root))
    settings = GenerateSettings(
        days=days,
        rows_per_day=rows,
        stores=3,
        products=20,
        start_date=dt.date(2026, 3, 1),
        bad_row_rate=0.02,
        workers=1,
    )
    generate(settings, storage)
    return storage


def _csv_rows(path: Path) -> list[tuple[str, ...]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        return sorted(tuple(row) for row in reader)


def test_start_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = load_settings(
            None,
            {
                "runtime_dir": str(tmp_path),
                "hdfs.namenode_port": port,
                "hdfs.http_port": free_port(),
            },
        )
        with pytest.raises(ServiceError, match=f"port {port} .* in use"):
            hdfs.start(settings)


def test_doctor_reports_a_local_root_and_a_silent_namenode(tmp_path: Path) -> None:
    local = load_settings(None, {"runtime_dir": str(tmp_path), "storage.root": str(tmp_path)})
    assert hdfs.doctor_check(local) == (True, "not used (storage root is local)", "")
    silent = load_settings(
        None,
        {"runtime_dir": str(tmp_path), "storage.root": f"hdfs://127.0.0.1:{free_port()}/retail"},
    )
    ok, detail, fix = hdfs.doctor_check(silent)
    assert not ok
    assert "no NameNode answers" in detail
    assert "retailpipe hdfs up" in fix


@pytest.mark.integration
def test_status_shows_a_live_datanode(hdfs_cluster: str, hdfs_settings: Settings) -> None:
    current = hdfs.status(hdfs_settings)
    assert current.running
    assert current.uri == hdfs_cluster
    assert current.live_datanodes == 1
    on_hdfs = hdfs_settings.model_copy(deep=True)
    on_hdfs.storage.root = f"{hdfs_cluster}/retail"
    ok, detail, _ = hdfs.doctor_check(on_hdfs)
    assert ok, detail


@pytest.mark.integration
def test_upload_then_spark_reads_the_same_rows(
    hdfs_cluster: str, hdfs_settings: Settings, spark: object, tmp_path: Path
) -> None:
    local = _raw_set(tmp_path / "local")
    remote = Storage(f"{hdfs_cluster}/roundtrip")
    names = hdfs.put(hdfs_settings, local.path("raw"), remote.uri("raw"))
    assert "stores.csv" in names

    for day in (dt.date(2026, 3, 1), dt.date(2026, 3, 2)):
        # Line by line, including the malformed rows the generator injected.
        expected = local.raw_day_path(day).read_text(encoding="utf-8").splitlines()
        lines = spark.read.text(remote.raw_day_uri(day)).collect()  # type: ignore[attr-defined]
        assert [row.value for row in lines] == expected
        # Parsed as CSV, the well-formed rows equal the csv module's reading of the local file.
        frame = spark.read.option("header", "true").csv(remote.raw_day_uri(day))  # type: ignore[attr-defined]
        parsed = sorted(
            tuple("" if value is None else value for value in row) for row in frame.collect()
        )
        well_formed = [row for row in _csv_rows(local.raw_day_path(day)) if len(row) == 11]
        assert set(well_formed) <= set(parsed)
        assert len(parsed) == len(expected) - 1

    manifest = hdfs.fs_shell(hdfs_settings, "-cat", remote.uri("manifest"), uri=hdfs_cluster)
    assert json.loads(manifest) == json.loads(local.path("manifest").read_text())


@pytest.mark.integration
def test_spark_writes_parquet_to_hdfs(hdfs_cluster: str, spark: object) -> None:

    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("store_id", T.StringType()),
            T.StructField("net_revenue", T.DecimalType(18, 2)),
        ]
    )
    rows = [("S001", Decimal("10.05")), ("S002", Decimal("-3.10")), ("S003", Decimal("0.00"))]
    target = f"{hdfs_cluster}/parquet-check/daily"
    spark.createDataFrame(rows, schema).write.mode("overwrite").parquet(target)  # type: ignore[attr-defined]
    back = spark.read.parquet(target).collect()  # type: ignore[attr-defined]
    assert sorted((row.store_id, row.net_revenue) for row in back) == sorted(rows)
    listing = hdfs.fs_shell(load_settings(None, {}), "-ls", target, uri=hdfs_cluster)
    assert ".parquet" in listing


@pytest.mark.integration
def test_cli_status_and_ls(hdfs_cluster: str, hdfs_settings: Settings, tmp_path: Path) -> None:
    port = str(hdfs_settings.hdfs.namenode_port)
    env = {
        "RETAILPIPE_RUNTIME_DIR": hdfs_settings.runtime_dir,
        "RETAILPIPE_HDFS__NAMENODE_PORT": port,
        "RETAILPIPE_HDFS__HTTP_PORT": str(hdfs_settings.hdfs.http_port),
    }
    runner = CliRunner()
    result = runner.invoke(app, ["hdfs", "status"], env=env)
    assert result.exit_code == 0, result.output
    assert "running" in result.output and port in result.output

    source = tmp_path / "one.txt"
    source.write_text("hello hdfs\n")
    result = runner.invoke(
        app, ["hdfs", "put", str(source), "--to", f"{hdfs_cluster}/cli-check"], env=env
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["hdfs", "ls", f"{hdfs_cluster}/cli-check"], env=env)
    assert result.exit_code == 0, result.output
    assert "cli-check/one.txt" in result.output

    stopped = {**env, "RETAILPIPE_HDFS__NAMENODE_PORT": str(free_port())}
    result = runner.invoke(app, ["hdfs", "status"], env=stopped)
    assert result.exit_code == 3


@pytest.mark.integration
@pytest.mark.slow
def test_down_then_up_keeps_the_data(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {
            "runtime_dir": str(tmp_path / "runtime"),
            "hdfs.namenode_port": free_port(),
            "hdfs.http_port": free_port(),
            "hdfs.heap": "256m",
        },
    )
    source = tmp_path / "kept.txt"
    source.write_text("still here after a restart\n")
    try:
        first = hdfs.start(settings)
        hdfs.put(settings, source, f"{first.uri}/kept")
        assert hdfs.stop(settings)
        assert not hdfs.status(settings).running
        assert not hdfs.stop(settings), "a second down has nothing to stop"

        second = hdfs.start(settings)
        assert second.pid != first.pid
        text = hdfs.fs_shell(settings, "-cat", f"{second.uri}/kept/kept.txt", uri=second.uri)
        assert text == source.read_text()
    finally:
        hdfs.stop(settings)
