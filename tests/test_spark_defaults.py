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


def test_an_explicit_driver_memory_is_kept(settings) -> None:
    explicit = settings.model_copy(
        update={"spark": settings.spark.model_copy(update={"driver_memory": "3g"})}
    )
    assert spark.base_conf(explicit, "x")["spark.driver.memory"] == "3g"
    assert spark.base_conf(settings, "x")["spark.driver.memory"] == spark.default_driver_memory()
