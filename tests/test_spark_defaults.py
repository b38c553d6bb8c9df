"""The session defaults sized for the machine (no Spark needed)."""

from __future__ import annotations

import pytest

from retailpipe import spark

GIB = 1 << 30


@pytest.mark.parametrize(
    ("physical", "cgroup", "expected"),
    [
        (16 * GIB, 1 << 62, "4g"),  # a quarter of a laptop
        (64 * GIB, 1 << 62, "8g"),  # capped
        (4 * GIB, 1 << 62, "2g"),  # floor
        (64 * GIB, 12 * GIB, "3g"),  # a container's limit wins over the host's memory
        (0, 1 << 62, "2g"),  # memory unknown
    ],
)
def test_driver_memory_is_a_quarter_of_what_the_process_may_use(
    monkeypatch, physical, cgroup, expected
) -> None:
    monkeypatch.setattr(spark, "_physical_memory", lambda: physical)
    monkeypatch.setattr(spark, "_cgroup_limit", lambda: cgroup)
    assert spark.default_driver_memory() == expected


def test_an_explicit_driver_memory_is_kept(monkeypatch, settings) -> None:
    monkeypatch.setattr(spark, "_physical_memory", lambda: 16 * GIB)
    monkeypatch.setattr(spark, "_cgroup_limit", lambda: 1 << 62)
    explicit = settings.model_copy(
        update={"spark": settings.spark.model_copy(update={"driver_memory": "3g"})}
    )
    assert spark.base_conf(explicit, "x")["spark.driver.memory"] == "3g"
    # Unset: the machine's quarter (16 GiB here), worked out by hand, not by the code.
    assert settings.spark.driver_memory is None
    assert spark.base_conf(settings, "x")["spark.driver.memory"] == "4g"


def _java_options(settings, input_bytes) -> str:
    return spark.base_conf(settings, "x", input_bytes=input_bytes)["spark.driver.extraJavaOptions"]


def test_small_inputs_start_on_the_quick_compiler_only(settings) -> None:
    quick = "-XX:TieredStopAtLevel=1"
    hot = "-XX:Tier4InvocationThreshold=40000"  # C2 compiles only hot code (larger runs)
    limit = 64 << 20  # 64 MB of local input: docs/batch.md
    assert quick in _java_options(settings, 0)
    assert quick in _java_options(settings, limit - 1)
    assert quick not in _java_options(settings, limit)
    assert quick not in _java_options(settings, None)  # unknown size: both compilers
    assert hot in _java_options(settings, limit)
    assert hot in _java_options(settings, None)
    assert hot not in _java_options(settings, 0)


def test_local_input_bytes_counts_the_files_a_run_reads(tmp_path) -> None:
    import datetime as dt

    from retailpipe.batch.extract import local_input_bytes
    from retailpipe.storage import Storage

    storage = Storage(str(tmp_path))
    raw = storage.path("raw")
    raw.mkdir(parents=True)
    for day, size in (("2026-01-01", 10), ("2026-01-02", 20), ("2026-01-03", 40)):
        (raw / f"transactions_{day}.csv").write_bytes(b"x" * size)
    (raw / ".transactions_2026-01-04.csv.tmp-1").write_bytes(b"x" * 1000)
    (raw / "stores.csv").write_bytes(b"x" * 1000)
    assert local_input_bytes(storage, None, None) == 70
    days = (dt.date(2026, 1, 2), dt.date(2026, 1, 3))
    assert local_input_bytes(storage, None, days) == 60
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.csv").write_bytes(b"x" * 5)
    (other / "b.txt").write_bytes(b"x" * 500)
    assert local_input_bytes(storage, str(other), None) == 5
    assert local_input_bytes(storage, other.as_uri() + "/*.csv", None) == 5
    # Not measurable here: the default JIT options stay.
    assert local_input_bytes(storage, "hdfs://nn:8020/raw", None) is None
    assert local_input_bytes(Storage("hdfs://nn:8020/retail"), None, None) is None
    assert local_input_bytes(Storage("hdfs://nn:8020/retail"), str(other), None) is None
    assert local_input_bytes(storage, str(other / "{a,c}.csv"), None) is None
    assert local_input_bytes(storage, str(tmp_path / "missing"), None) is None
    empty = (dt.date(2027, 1, 1), dt.date(2027, 1, 2))
    assert local_input_bytes(storage, None, empty) is None
