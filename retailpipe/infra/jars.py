"""Jars from Maven Central (Spark's Kafka source, the Kafka broker), resolved once and cached.

Maven resolves the small poms next to this file into a private local repository under the
cache folder (`~/.cache/retailpipe`, env `RETAILPIPE_CACHE_DIR`). The resolved class path is
written to a list file; later calls read that list and need neither Maven nor the network.
Run `python -m retailpipe.infra.jars` to fetch everything ahead of time.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from retailpipe.errors import ServiceError
from retailpipe.infra.java import java_executable, require_java
from retailpipe.settings import Settings

log = logging.getLogger(__name__)

CACHE_ENV = "RETAILPIPE_CACHE_DIR"
SPARK_KAFKA_POM = "spark-kafka-pom.xml"
KAFKA_BROKER_POM = "kafka-broker-pom.xml"
MVN_TIMEOUT_S = 900


def cache_dir() -> Path:
    """The folder holding retailpipe's jar cache."""
    configured = os.environ.get(CACHE_ENV)
    root = Path(configured).expanduser() if configured else Path.home() / ".cache" / "retailpipe"
    return root.resolve()


def pyspark_version() -> str:
    import pyspark

    return pyspark.__version__


def pyspark_jar_names() -> set[str]:
    """Artifact names of the jars PySpark already ships (e.g. `kafka-clients`, `lz4-java`)."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    return {_artifact_of_file(jar.name) for jar in jars.glob("*.jar")}


def _artifact_of_file(name: str) -> str:
    """`zstd-jni-1.5.7-7.jar` -> `zstd-jni`: the name up to its first dotted numeric part."""
    parts = name.removesuffix(".jar").split("-")
    for index, part in enumerate(parts[1:], start=1):
        # "10_2.13" in spark-sql-kafka-0-10_2.13 is a Scala suffix, not a version.
        if part[:1].isdigit() and "." in part and "_" not in part:
            return "-".join(parts[:index])
    return "-".join(parts)


def spark_kafka_jars(settings: Settings) -> list[Path]:
    """The spark-sql-kafka-0-10 connector for the installed PySpark, plus its runtime jars
    that PySpark does not already ship (the ones it ships win, so no class appears twice)."""
    del settings  # one cache per machine; the version follows the installed PySpark
    version = pyspark_version()
    jars = _resolve(SPARK_KAFKA_POM, f"spark-kafka-{version}", {"spark.version": version})
    shipped = pyspark_jar_names()
    return [jar for jar in jars if _artifact_of_path(jar) not in shipped]


def kafka_jars(settings: Settings) -> list[Path]:
    """The Kafka broker (`kafka_2.13`), `kafka-tools` and their runtime jars."""
    version = settings.kafka.local.version
    return _resolve(KAFKA_BROKER_POM, f"kafka-{version}", {"kafka.version": version})


def kafka_classpath(settings: Settings) -> str:
    """A Java class path that runs the Kafka broker and its tools."""
    return os.pathsep.join(str(jar) for jar in kafka_jars(settings))


def _artifact_of_path(jar: Path) -> str:
    # Maven repository layout: .../<artifactId>/<version>/<artifactId>-<version>.jar
    return jar.parent.parent.name


def _resolve(pom_name: str, key: str, properties: dict[str, str]) -> list[Path]:
    """The runtime class path of one pom, from the cache or else resolved with Maven."""
    cache = cache_dir()
    listing = cache / "classpaths" / f"{key}.json"
    cached = _read_listing(listing)
    if cached is not None:
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    with _lock(cache / ".lock"):
        cached = _read_listing(listing)  # another process may have resolved it meanwhile
        if cached is not None:
            return cached
        jars = _run_maven(pom_name, properties, cache)
        listing.parent.mkdir(parents=True, exist_ok=True)
        temp = listing.with_suffix(".tmp")
        temp.write_text(json.dumps([str(jar) for jar in jars], indent=1))
        temp.replace(listing)
        return jars


def _read_listing(listing: Path) -> list[Path] | None:
    if not listing.is_file():
        return None
    try:
        jars = [Path(item) for item in json.loads(listing.read_text())]
    except (OSError, ValueError):
        return None
    return jars if jars and all(jar.is_file() for jar in jars) else None


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_maven(pom_name: str, properties: dict[str, str], cache: Path) -> list[Path]:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(
            "Maven (`mvn`) is needed once to fetch the Kafka jars and was not found",
            "install Maven (`apt-get install maven`) and run `python -m retailpipe.infra.jars`",
        )
    require_java()
    repo = cache / "m2"
    out_file = cache / "classpaths" / f".{pom_name}.{os.getpid()}.txt"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("retailpipe.infra").joinpath(pom_name)) as pom:
        command = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            f"-Dmaven.repo.local={repo}",
            *(f"-D{name}={value}" for name, value in properties.items()),
            "dependency:build-classpath",
            "-DincludeScope=runtime",
            f"-Dmdep.outputFile={out_file}",
        ]
        env = _maven_env()
        log.info("resolving %s with Maven into %s (first use only)", pom_name, repo)
        # Offline first: a warm repository needs no network at all.
        result = _call(["-o", *command[1:]], mvn, env) if repo.is_dir() else None
        if result is None or result.returncode != 0:
            result = _call(command[1:], mvn, env)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        raise ServiceError(
            f"Maven could not resolve {pom_name} ({properties}): {tail}",
            "check that Maven Central is reachable (proxy settings in ~/.m2/settings.xml), "
            "then retry `python -m retailpipe.infra.jars`",
        )
    text = out_file.read_text().strip()
    out_file.unlink(missing_ok=True)
    return [Path(item) for item in text.split(os.pathsep) if item]


def _call(args: list[str], mvn: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [mvn, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=MVN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(
            f"Maven did not finish within {MVN_TIMEOUT_S} s", "check the network and retry"
        ) from exc


def _maven_env() -> dict[str, str]:
    env = dict(os.environ)
    java = java_executable()
    if java is not None and "JAVA_HOME" not in env:
        env["JAVA_HOME"] = str(java.resolve().parent.parent)
    return env


def doctor_check(settings: Settings) -> tuple[bool, str, str]:
    """For `retailpipe doctor`: is the connector cached, for the installed PySpark version?"""
    version = pyspark_version()
    listing = cache_dir() / "classpaths" / f"spark-kafka-{version}.json"
    jars = _read_listing(listing)
    fix = "run `python -m retailpipe.infra.jars` (needs Maven and network once)"
    if jars is None:
        return False, f"spark-sql-kafka-0-10 {version} not cached in {cache_dir()}", fix
    connector = [jar for jar in jars if _artifact_of_path(jar) == "spark-sql-kafka-0-10_2.13"]
    found = connector[0].parent.name if connector else "missing"
    if found != version:
        return False, f"connector {found} does not match PySpark {version}", fix
    return True, f"spark-sql-kafka-0-10 {found} (PySpark {version}) in {cache_dir()}", ""


def main() -> int:
    """Fetch every jar retailpipe needs (Spark's Kafka source, the Kafka broker and tools)."""
    from retailpipe.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = load_settings()
        spark_jars = spark_kafka_jars(settings)
        broker_jars = kafka_jars(settings)
    except ServiceError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    print(f"Spark Kafka connector: {len(spark_jars)} jar(s) added to PySpark's")
    print(f"Kafka {settings.kafka.local.version} broker and tools: {len(broker_jars)} jar(s)")
    print(f"cache: {cache_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
