"""The stream's serving copy (retailpipe/serving.py), with a local folder as the primary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from retailpipe.errors import ConfigError
from retailpipe.fs import LOCAL, atomic_write
from retailpipe.serving import MirroredFiles
from retailpipe.storage import Storage
from retailpipe.stream.publish import WINDOW_SCHEMA, publish_windows
from retailpipe.stream.run import files_for

UTC = dt.UTC
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
START = int(dt.datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1_000_000)


def _mirror(tmp_path: Path) -> tuple[MirroredFiles, Path, Path]:
    """Copies of primary/stream (kept exact) and primary/runs (only added to)."""
    primary, copy = tmp_path / "primary", tmp_path / "copy"
    primary.mkdir()
    folders = {str(primary / name): copy / name for name in ("stream", "runs")}
    single = {str(primary / "raw" / "stores.csv"): copy / "raw" / "stores.csv"}
    exact = (str(primary / "stream"),)
    return MirroredFiles(LOCAL, folders, exact=exact, single=single), primary, copy


def _windows(values: dict, now: dt.datetime) -> pa.Table:
    """Store rows {(start us, end us, store): (transactions, units, net)} for the writer."""
    return pa.Table.from_pylist(
        [
            {
                "window_start": dt.datetime.fromtimestamp(start / 1e6, UTC),
                "window_end": dt.datetime.fromtimestamp(end / 1e6, UTC),
                "store_id": store,
                "transactions": value[0],
                "units": value[1],
                "net_revenue": value[2],
                "updated_at": now,
            }
            for (start, end, store), value in values.items()
        ],
        schema=WINDOW_SCHEMA,
    )


def _visible(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


def test_published_day_files_are_copied_byte_for_byte(tmp_path: Path) -> None:
    files, primary, copy = _mirror(tmp_path)
    first = {(START, START + HOUR_US, "S001"): (3, 5, Decimal("12.50"))}
    now = dt.datetime(2026, 3, 2, 1, tzinfo=UTC)
    publish_windows(str(primary / "stream"), _windows(first, now), now, files)
    later = {
        (START, START + HOUR_US, "S001"): (4, 7, Decimal("20.00")),  # an upsert
        (START + DAY_US, START + DAY_US + HOUR_US, "S002"): (1, 1, Decimal("0.99")),
    }
    now = dt.datetime(2026, 3, 3, 1, tzinfo=UTC)
    publish_windows(str(primary / "stream"), _windows(later, now), now, files)

    on_primary = _visible(primary / "stream")
    assert sorted(on_primary) == ["windows-2026-03-02.parquet", "windows-2026-03-03.parquet"]
    assert _visible(copy / "stream") == on_primary
    assert not [p for p in (copy / "stream").iterdir() if p.name.startswith(".")]  # no temps


def test_other_folders_are_not_copied_and_deletes_are(tmp_path: Path) -> None:
    files, primary, copy = _mirror(tmp_path)
    atomic_write(files, str(primary / "checkpoints" / "state.json"), b"{}")
    atomic_write(files, str(primary / "stream_late" / "late-x.parquet"), b"PAR1")  # not a prefix
    atomic_write(files, str(primary / "stream" / "windows-x.parquet"), b"PAR1")
    files.write_bytes(str(primary / "stream" / "direct.json"), b"[]")  # no temp, no replace
    assert _visible(copy / "stream") == {"windows-x.parquet": b"PAR1", "direct.json": b"[]"}
    assert sorted(p.name for p in copy.iterdir()) == ["stream"]

    files.delete(str(primary / "stream"))
    assert not (primary / "stream").exists() and not (copy / "stream").exists()
    with pytest.raises(ValueError, match="copied to the serving root"):
        files.mkdirs(str(primary / "runs" / "sub"))


def test_refresh_brings_a_stale_copy_up_to_date(tmp_path: Path) -> None:
    files, primary, copy = _mirror(tmp_path)
    (primary / "stream").mkdir()
    (primary / "stream" / "windows-a.parquet").write_bytes(b"new a")
    (primary / "stream" / "windows-b.parquet").write_bytes(b"b")
    (primary / "stream" / ".windows-c.parquet.tmp-1").write_bytes(b"half")  # a killed write
    (primary / "raw").mkdir()
    (primary / "raw" / "stores.csv").write_bytes(b"store_id,store_name\n")
    (copy / "stream").mkdir(parents=True)
    (copy / "stream" / "windows-a.parquet").write_bytes(b"old a")
    (copy / "stream" / "windows-b.parquet").write_bytes(b"b")
    (copy / "stream" / "windows-gone.parquet").write_bytes(b"reset since")
    (copy / "stream" / ".windows-b.parquet.tmp-77").write_bytes(b"killed local write")

    assert files.refresh() == 2  # windows-a (it differed) and stores.csv
    assert _visible(copy / "stream") == {"windows-a.parquet": b"new a", "windows-b.parquet": b"b"}
    assert sorted(p.name for p in (copy / "stream").iterdir()) == [
        "windows-a.parquet",
        "windows-b.parquet",
    ]
    assert (copy / "raw" / "stores.csv").read_bytes() == b"store_id,store_name\n"
    assert files.refresh() == 0  # nothing differs any more


def test_refresh_only_adds_outside_exact_folders(tmp_path: Path) -> None:
    files, primary, copy = _mirror(tmp_path)
    (primary / "runs").mkdir()
    (primary / "runs" / "stream-1.json").write_bytes(b"{}")
    (copy / "runs").mkdir(parents=True)
    (copy / "runs" / "batch-1.json").write_bytes(b"{}")  # the batch job's serving copy
    files.refresh()
    assert sorted(_visible(copy / "runs")) == ["batch-1.json", "stream-1.json"]


def test_a_serving_root_on_hdfs_is_refused(tmp_path: Path) -> None:
    hdfs_root = Storage("hdfs://127.0.0.1:9/retail")
    with pytest.raises(ConfigError, match=r"serving_root .* is not a local folder"):
        files_for(hdfs_root, spark=None, serving_root="hdfs://127.0.0.1:9/serving")  # type: ignore[arg-type]
