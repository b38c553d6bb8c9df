"""`retailpipe doctor`: checks the machine and the configured services, and says what to fix."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import typer
from rich.table import Table

from retailpipe.cli.state import state
from retailpipe.console import console
from retailpipe.errors import RetailpipeError
from retailpipe.infra.java import MIN_JAVA, java_executable, java_version
from retailpipe.settings import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def check_python(_: Settings) -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    return Check("Python", ok, version, "install Python 3.11 or newer")


def check_java(_: Settings) -> Check:
    version = java_version()
    if version is None:
        return Check("Java", False, "not found", "install a JDK 17+ or set JAVA_HOME")
    ok = version >= MIN_JAVA
    return Check("Java", ok, f"{version} ({java_executable()})", f"install Java {MIN_JAVA}+")


def check_pyspark(_: Settings) -> Check:
    try:
        import pyspark
    except ImportError:
        return Check("PySpark", False, "not importable", "run `make install`")
    return Check("PySpark", True, pyspark.__version__)


def check_storage(settings: Settings) -> Check:
    from retailpipe.storage import Storage

    storage = Storage(settings.storage.root)
    if not storage.is_local:
        return Check(
            "Storage root", True, storage.base_uri + " (checked under HDFS)", required=False
        )
    root = storage.local_root
    probe = root if root.exists() else root.parent
    import os

    ok = probe.exists() and os.access(probe, os.W_OK)
    return Check("Storage root", ok, str(root), f"make {probe} writable or set storage.root")


def check_stream_workers(_: Settings) -> Check:
    """The packages the stream's stateful step needs in Spark's Python workers."""
    import os
    import subprocess

    python = os.environ.get("PYSPARK_PYTHON", sys.executable)
    probe = subprocess.run(
        [python, "-c", "import numpy, pandas, pyarrow, google.protobuf"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0:
        return Check("Stream workers' Python", True, python)
    missing = (probe.stderr.strip().splitlines() or ["cannot run it"])[-1]
    return Check(
        "Stream workers' Python",
        False,
        f"{python}: {missing}",
        "set PYSPARK_PYTHON to retailpipe's Python, or install retailpipe into that one",
    )


def _service(module: str, name: str) -> Callable[[Settings], Check]:
    """A stage's `doctor_check(settings) -> (ok, detail, fix)` for a service it talks to."""

    def run(settings: Settings) -> Check:
        import importlib

        try:
            check = importlib.import_module(module).doctor_check
        except ImportError as exc:  # a broken install, not a service that is down
            return Check(name, False, f"cannot import {module}: {exc}", "run `make install`")
        ok, detail, fix = check(settings)
        return Check(name, ok, detail, fix, required=False)

    return run


CHECKS: tuple[Callable[[Settings], Check], ...] = (
    check_python,
    check_java,
    check_pyspark,
    check_storage,
    check_stream_workers,
    _service("retailpipe.infra.jars", "Spark Kafka connector"),
    _service("retailpipe.replay.client", "Kafka"),
    _service("retailpipe.infra.hdfs", "HDFS"),
)


def doctor(ctx: typer.Context) -> None:
    """Check Python, Java 17+, PySpark, the storage root, Kafka and HDFS; print what to fix.

    Example: retailpipe doctor
    """
    settings = state(ctx).settings()
    table = Table("check", "status", "detail", "fix", title="retailpipe doctor")
    failed = []
    for run in CHECKS:
        check = run(settings)
        mark = (
            "[green]ok[/]"
            if check.ok
            else ("[red]FAIL[/]" if check.required else "[yellow]warn[/]")
        )
        table.add_row(check.name, mark, check.detail, "" if check.ok else check.fix)
        if check.required and not check.ok:
            failed.append(check)
    console.print(table)
    if failed:
        names = ", ".join(check.name for check in failed)
        raise RetailpipeError(f"{len(failed)} required check(s) failed: {names}", failed[0].fix)
