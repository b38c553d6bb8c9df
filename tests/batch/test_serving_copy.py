"""`retailpipe batch` with its storage root on HDFS (real HDFS, real Spark): every curated
table on HDFS equals the oracle, and the run refreshes the dashboards' local serving copy."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from typer.testing import CliRunner

from retailpipe.cli.app import app
from retailpipe.generate.run import generate
from retailpipe.infra import hdfs
from retailpipe.settings import GenerateSettings, Settings
from retailpipe.storage import Storage
from tests.batch.oracle import expected_aggregates, keyed, read_truth
from tests.generate.oracle import read_raw

pytestmark = pytest.mark.integration


def test_batch_on_hdfs_publishes_a_local_serving_copy(
    hdfs_cluster: str, hdfs_settings: Settings, spark: object, tmp_path: Path
) -> None:
    local = Storage(str(tmp_path / "local"))
    params = GenerateSettings(
        days=2,
        rows_per_day=250,
        stores=3,
        products=20,
        start_date=dt.date(2026, 5, 1),
        bad_row_rate=0.02,
        duplicate_rate=0.02,
        late_rate=0.02,
        workers=1,
    )
    generate(params, local)
    remote = Storage(f"{hdfs_cluster}/serving-{tmp_path.name}")
    hdfs.put(hdfs_settings, local.path("raw"), remote.uri("raw"))
    serving = tmp_path / "serving"
    env = {
        "RETAILPIPE_STORAGE__SERVING_ROOT": str(serving),
        "RETAILPIPE_RUNTIME_DIR": hdfs_settings.runtime_dir,
        "RETAILPIPE_HDFS__NAMENODE_PORT": str(hdfs_settings.hdfs.namenode_port),
        "RETAILPIPE_HDFS__HTTP_PORT": str(hdfs_settings.hdfs.http_port),
    }
    for _ in range(2):  # the second run swaps in a new version over the first
        result = CliRunner().invoke(app, ["batch", "--root", remote.root], env=env)
        assert result.exit_code == 0, result.output
        assert "serving copy" in result.output
    assert (serving / "curated").is_symlink()
    assert len(list((serving / "_versions").iterdir())) == 1
    assert len(list((serving / "runs").glob("batch-*.json"))) == 2
    for name in ("stores.csv", "products.csv"):  # the names the dashboards show
        assert (serving / "raw" / name).read_bytes() == local.path("raw", name).read_bytes()

    table = pads.dataset(serving / "curated" / "daily_sales", format="parquet").to_table()
    got = {row["sale_date"].isoformat(): row["net_revenue"] for row in table.to_pylist()}
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for line in read_raw(local.path("raw")).lines:
        expected[line.sale_date] += line.net
    assert got == dict(expected)

    # On HDFS, read back with Hadoop's own shell and a plain pyarrow reader, not with Spark.
    copy = tmp_path / "copy"
    copy.mkdir()
    hdfs.fs_shell(hdfs_settings, "-get", remote.uri("curated"), str(copy), uri=hdfs_cluster)
    oracle = expected_aggregates(read_truth(local.path("raw")))
    for name in oracle:  # every table the oracle computes, to the cent
        table = pads.dataset(copy / "curated" / name, format="parquet").to_table()
        assert keyed(table.to_pylist()) == oracle[name], name
    daily = pads.dataset(copy / "curated" / "daily_sales", format="parquet").schema
    assert str(daily.field("net_revenue").type) == "decimal128(18, 2)"
    runs = hdfs.fs_shell(hdfs_settings, "-ls", remote.uri("runs"), uri=hdfs_cluster)
    assert runs.count("batch-") == 2 and ".json" in runs
