"""The SparkSession factory; the only place `SparkSession.builder` appears."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from importlib import resources
from typing import IO, TYPE_CHECKING

from retailpipe.errors import ConfigError, ServiceError, first_line
from retailpipe.infra.java import require_java
from retailpipe.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

AddOn = Callable[["SparkSession.Builder", Settings], "SparkSession.Builder"]


def default_shuffle_partitions() -> int:
    """Few partitions: retailpipe's aggregates are small, and each partition costs a task."""
    return max(2, 2 * (os.cpu_count() or 1))


def parse_conf_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """Parse `--conf key=value` arguments."""
    conf: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--conf {pair!r} is not key=value",
                "write it as --conf spark.sql.shuffle.partitions=8",
            )
        conf[key.strip()] = value.strip()
    return conf


def default_driver_memory() -> str:
    """A quarter of the memory this process may use, 2g to 8g: in local mode the driver's
    heap holds the whole job (cache, hash tables, open files), and a small heap spills and
    collects garbage most of the time (`batch` on 11 M rows: 2g 300 s, 6g 226 s)."""
    available = min(_physical_memory(), _cgroup_limit())
    return f"{min(8, max(2, available // 4 // (1 << 30)))}g"


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: the 2g floor applies
        return 0


def _cgroup_limit() -> int:
    """A container's memory limit (cgroup v2 or v1); a large number when there is none."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as handle:
                value = handle.read().strip()
        except OSError:
            continue
        if value.isdigit():
            return int(value)
    return 1 << 62


# Below this much input a run ends before code from C2, HotSpot's optimising compiler,
# pays for its compilation (see `jit_options`).
QUICK_START_BYTES = 64 << 20


# For the others, C2 waits for code that is really hot (8x HotSpot's call and 5x its loop
# thresholds), which leaves Spark's planning and Janino to C1, and may build graphs three
# times the size, so that a large generated method compiles instead of running out of nodes
# after seconds of work.
C2_FOR_HOT_CODE = (
    " -XX:Tier4InvocationThreshold=40000 -XX:Tier4MinInvocationThreshold=20000"
    " -XX:Tier4CompileThreshold=50000 -XX:Tier4BackEdgeThreshold=200000"
    " -XX:MaxNodeLimit=240000 -XX:NodeLimitFudgeFactor=8000"
)


def jit_options(input_bytes: int | None) -> str:
    """HotSpot compiler options for a job over `input_bytes` of input (None: unknown, large
    or long-running).

    On a cold JVM C2 takes about half of all CPU for the first minute (Spark's generated
    code and Spark itself). A small job is over before that pays off, so it runs on C1
    only: `batch` on 100 k rows, five pairs of runs, took a median 0.82x of the time with
    both compilers (docs/batch.md). On 3 M rows C1 alone is 1.7x slower, so larger or
    unknown inputs keep both, C2 tuned by C2_FOR_HOT_CODE (0.90x the time on 3 M rows).
    """
    if input_bytes is not None and input_bytes < QUICK_START_BYTES:
        return " -XX:TieredStopAtLevel=1"
    return C2_FOR_HOT_CODE


def wants_ui(settings: Settings, app_name: str) -> bool:
    """Whether a command runs with Spark's web UI: `stream` by default (its Structured
    Streaming tab is how a query is watched), `batch` when `batch.spark_ui` is set."""
    return {"stream": settings.stream.spark_ui, "batch": settings.batch.spark_ui}.get(
        app_name, False
    )


def ui_conf(settings: Settings, on: bool) -> dict[str, str]:
    """Spark's web UI off, or on from `spark.ui_port`: a port in use moves to the next one
    (Spark itself, up to `spark.port.maxRetries` times)."""
    if not on:
        return {"spark.ui.enabled": "false"}
    return {"spark.ui.enabled": "true", "spark.ui.port": str(settings.spark.ui_port)}


def base_conf(
    settings: Settings, app_name: str, *, input_bytes: int | None = None, ui: bool = False
) -> dict[str, str]:
    """Every Spark setting retailpipe applies, before config and --conf overrides.

    `input_bytes`: the size of the job's input when known (see `jit_options`); `ui`: with
    Spark's web UI."""
    spark = settings.spark
    log4j = resources.files("retailpipe.infra").joinpath("log4j2.properties")
    # Whole-stage code for the cleanse step is one large method; HotSpot leaves methods
    # over 8,000 bytecodes to the interpreter unless told otherwise (2x on `batch`).
    # The throughput collector: G1's concurrent work competes with the tasks for the few
    # cores of a laptop or CI runner (`batch` on 3 M rows: 105 s instead of 140 s).
    java_opts = (
        f"-Dlog4j2.configurationFile=file:{log4j} -Duser.timezone=UTC"
        " -XX:-DontCompileHugeMethods -XX:+UseParallelGC"
    ) + jit_options(input_bytes)
    return {
        "spark.master": spark.master,
        "spark.app.name": f"retailpipe-{app_name}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(
            spark.shuffle_partitions or default_shuffle_partitions()
        ),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.driver.memory": spark.driver_memory or default_driver_memory(),
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": java_opts,
        **ui_conf(settings, ui),
        "spark.ui.showConsoleProgress": "false",
        # Decimal overflow must fail loudly, never turn money into NULL.
        "spark.sql.ansi.enabled": "true",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.hadoop.parquet.enable.summary-metadata": "false",
    }


def with_kafka(builder: SparkSession.Builder, settings: Settings) -> SparkSession.Builder:
    """Add Spark's own Kafka source (spark-sql-kafka-0-10), from the project's jar cache."""
    from retailpipe.infra.jars import spark_kafka_jars

    jars = spark_kafka_jars(settings)
    return builder.config("spark.jars", ",".join(str(jar) for jar in jars))


def with_hdfs(builder: SparkSession.Builder, settings: Settings) -> SparkSession.Builder:
    """Point Hadoop's client at the storage root's NameNode and make writes safe on HDFS."""
    from urllib.parse import urlparse

    root = urlparse(settings.storage.root)
    if root.scheme == "hdfs":
        builder = builder.config("spark.hadoop.fs.defaultFS", f"hdfs://{root.netloc}")
    # A single-DataNode development HDFS cannot replace failed DataNodes in a pipeline.
    return builder.config(
        "spark.hadoop.dfs.client.block.write.replace-datanode-on-failure.enable", "false"
    ).config("spark.hadoop.dfs.replication", "1")


def create_session(
    settings: Settings,
    app_name: str,
    *,
    add_ons: Iterable[AddOn] = (),
    conf: dict[str, str] | None = None,
    input_bytes: int | None = None,
    ui: bool | None = None,
) -> SparkSession:
    """Build (or reuse) the SparkSession for one job; `input_bytes` as in `base_conf`; `ui`
    (default: `wants_ui`) starts Spark's web UI, whose URL is logged (`ui_url`)."""
    require_java()
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a hard dependency
        raise ServiceError("PySpark is not installed", "run `make install`") from exc

    # Python workers (the stream's stateful step) run this interpreter, with retailpipe's
    # packages, not whatever `python3` is first on the PATH (PySpark's default). On a
    # cluster the workers need the same path, or PYSPARK_PYTHON set to their own.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    ui = wants_ui(settings, app_name) if ui is None else ui
    merged = (
        base_conf(settings, app_name, input_bytes=input_bytes, ui=ui)
        | settings.spark.conf
        | (conf or {})
    )
    if ui:
        merged = _bind_ui(settings, merged)
    for key, value in merged.items():
        builder = builder.config(key, value)
    if not settings.storage.root.startswith("hdfs://"):
        add_ons = list(add_ons)
    else:
        add_ons = [*add_ons, with_hdfs]
    for add_on in add_ons:
        builder = add_on(builder, settings)
    log.info("starting Spark (%s, master %s)", app_name, merged["spark.master"])
    try:
        _launch_quiet_jvm(builder)
        session = builder.getOrCreate()
    except Exception as exc:
        raise ServiceError(
            f"Spark could not start: {first_line(exc)}",
            "run `retailpipe doctor` to check Java and PySpark",
        ) from exc
    session.sparkContext.setLogLevel(settings.spark.log_level)
    if ui_url(session):
        log.info("Spark UI: %s", ui_url(session))
    return session


def ui_url(session: SparkSession) -> str | None:
    """The address of the session's web UI (with the port Spark settled on), or None."""
    return session.sparkContext.uiWebUrl or None


def _bind_ui(settings: Settings, conf: dict[str, str]) -> dict[str, str]:
    """Spark binds its UI to SPARK_LOCAL_IP (else every interface) and names it by
    `spark.driver.host`. On a local master the driver talks to no one else, so both are
    `spark.ui_host`; on a cluster the driver must stay reachable and both are left to the
    user (a value already set wins)."""
    if not conf["spark.master"].startswith("local"):
        return conf
    os.environ.setdefault("SPARK_LOCAL_IP", settings.spark.ui_host)
    return {"spark.driver.host": os.environ["SPARK_LOCAL_IP"]} | conf


# Lines Spark's JVM and its Python workers print that never tell a user anything: the JDK's
# note on the vector module Spark loads, and the stream's Python runner announcing itself.
CONSOLE_NOISE = re.compile(
    r"^(\s*$|WARNING: Using incubator modules: jdk\.incubator\.vector"
    r"|(Starting )?Streaming TransformWithStateInPandas Python worker)"
)


# The start of a record in the format of infra/log4j2.properties.
LOG_RECORD = re.compile(r"^\d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) ")
# Whether the JVM's error records and stack traces reach the console (`--debug`).
_console = {"details": False}


def show_jvm_details(on: bool) -> None:
    """Let Spark's own error records, Java stack traces and Python workers' tracebacks
    through to the console (the CLI's --debug); by default the CLI's one line says it."""
    _console["details"] = on


def _copy_console(source: IO[bytes]) -> None:
    """Copy the JVM's stderr to ours, line by line, without CONSOLE_NOISE and, unless
    `show_jvm_details`, without error records and the stack traces that follow them."""
    hiding = False
    for raw in iter(source.readline, b""):
        line = raw.decode(errors="replace")
        if CONSOLE_NOISE.match(line):
            continue
        record = LOG_RECORD.match(line)
        if record:
            hiding = record.group(1) in ("ERROR", "FATAL")
        elif line.startswith("Traceback (most recent call last)"):
            hiding = True
        if hiding and not _console["details"]:
            continue
        sys.stderr.write(line)
        sys.stderr.flush()


def _launch_quiet_jvm(builder: SparkSession.Builder) -> None:
    """Start Spark's JVM (once per process) with its stderr, which its Python workers
    share, piped through `_copy_console`; getOrCreate then uses that JVM."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None or "PYSPARK_GATEWAY_PORT" in os.environ:
        return
    # The builder's settings, as getOrCreate would pass them (spark-submit needs the
    # driver's memory and JVM options at launch).
    conf = SparkConf(loadDefaults=True).setAll(list(builder._options.items()))
    gateway = launch_gateway(conf, popen_kwargs={"stderr": subprocess.PIPE})
    SparkContext._ensure_initialized(gateway=gateway, conf=conf)
    threading.Thread(target=_copy_console, args=(gateway.proc.stderr,), daemon=True).start()
