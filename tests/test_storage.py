"""Dataset names -> URIs for local, file:// and hdfs:// storage roots."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from retailpipe.errors import ConfigError
from retailpipe.storage import Storage, parse_raw_date


def test_relative_local_root_resolves_against_cwd(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    storage = Storage("./data")
    assert storage.uri("daily_sales") == f"file://{tmp_path}/data/curated/daily_sales"
    assert storage.path("raw", "x.csv") == tmp_path / "data" / "raw" / "x.csv"
    assert storage.is_local


def test_file_uri_root(tmp_path: Path) -> None:
    storage = Storage(f"file://{tmp_path}/store/")
    assert storage.uri("transactions") == f"file://{tmp_path}/store/curated/transactions"
    assert storage.path("manifest") == tmp_path / "store" / "raw" / "_manifest.json"


def test_hdfs_root() -> None:
    storage = Storage("hdfs://127.0.0.1:9000/retail/")
    assert not storage.is_local
    assert storage.uri("checkpoints") == "hdfs://127.0.0.1:9000/retail/checkpoints/stream"
    assert storage.raw_day_uri(dt.date(2026, 1, 2)) == (
        "hdfs://127.0.0.1:9000/retail/raw/transactions_2026-01-02.csv"
    )
    with pytest.raises(ConfigError):
        _ = storage.local_root


def test_hdfs_root_without_namenode_is_rejected() -> None:
    with pytest.raises(ConfigError, match="NameNode"):
        Storage("hdfs:///retail")


def test_unsupported_scheme_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unsupported scheme"):
        Storage("s4://bucket/x")


def test_unknown_dataset_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        Storage(str(tmp_path)).uri("nonsense")


def test_raw_file_names_round_trip() -> None:
    day = dt.date(2026, 3, 9)
    name = Storage("/x").raw_file_name(day)
    assert name == "transactions_2026-03-09.csv"
    assert parse_raw_date(f"hdfs://nn:1/r/raw/{name}") == day
    assert parse_raw_date("transactions_2026-13-01.csv") is None
    assert parse_raw_date("stores.csv") is None
