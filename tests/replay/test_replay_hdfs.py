"""`replay` reads raw files from an hdfs:// storage root (real HDFS, real broker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retailpipe.cli.app import app
from retailpipe.infra import hdfs
from retailpipe.settings import Settings
from tests.replay.helpers import consume, make_data, new_topic, sendable

pytestmark = pytest.mark.integration


def test_replay_from_hdfs_sends_every_parsable_row(
    tmp_path: Path, hdfs_cluster: str, hdfs_settings: Settings, kafka_broker: str
) -> None:
    local = make_data(tmp_path / "local", days=2, rows_per_day=200)
    root = f"{hdfs_cluster}/replay-{tmp_path.name}"
    hdfs.fs_shell(hdfs_settings, "-mkdir", "-p", f"{root}/raw")
    hdfs.put(hdfs_settings, local.path("raw"), f"{root}/raw")
    topic = new_topic()
    env = {
        "RETAILPIPE_RUNTIME_DIR": hdfs_settings.runtime_dir,
        "RETAILPIPE_HDFS__NAMENODE_PORT": str(hdfs_settings.hdfs.namenode_port),
        "RETAILPIPE_HDFS__HTTP_PORT": str(hdfs_settings.hdfs.http_port),
    }
    result = CliRunner().invoke(
        app,
        ["replay", "--max", "--root", root, "--topic", topic, "--bootstrap-servers", kafka_broker],
        env=env,
    )
    assert result.exit_code == 0, result.output
    expected = sendable(local)  # an independent csv-module reading of the local copy
    messages = consume(kafka_broker, topic, len(expected))
    assert len(messages) == len(expected)
    got = sorted(
        (e["transaction_id"], int(e["line_no"])) for e in (json.loads(m.value()) for m in messages)
    )
    want = sorted((row.values["transaction_id"], int(row.values["line_no"])) for row in expected)
    assert got == want
