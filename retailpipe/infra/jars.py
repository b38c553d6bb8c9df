"""Which jars from Maven Central: Spark's Kafka source, the Kafka broker, Hadoop's HDFS.

Each is one pom beside this file, resolved once by `maven.resolve` and cached.

Run `python -m retailpipe.infra.jars` to fetch them ahead of time.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from retailpipe.errors import ServiceError
from retailpipe.infra.maven import cache_dir, cached, resolve
from retailpipe.settings import Settings

SPARK_KAFKA_POM = "spark-kafka-pom.xml"
KAFKA_BROKER_POM = "kafka-broker-pom.xml"
HADOOP_POM = "hdfs-pom.xml"


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
    jars = resolve(
        SPARK_KAFKA_POM,
        f"spark-kafka-{version}",
        {"spark.version": version},
        f"Spark's Kafka connector {version}",
    )
    shipped = pyspark_jar_names()
    return [jar for jar in jars if _artifact_of_path(jar) not in shipped]


def kafka_jars(settings: Settings) -> list[Path]:
    """The Kafka broker (`kafka_2.13`), `kafka-tools` and their runtime jars."""
    version = settings.kafka.local.version
    return resolve(
        KAFKA_BROKER_POM, f"kafka-{version}", {"kafka.version": version}, f"Kafka {version}"
    )


def kafka_classpath(settings: Settings) -> str:
    """A Java class path that runs the Kafka broker and its tools."""
    return os.pathsep.join(str(jar) for jar in kafka_jars(settings))


def hadoop_jars(settings: Settings) -> list[Path]:
    """Hadoop's NameNode, DataNode and MiniDFSCluster runner (`hadoop-client-minicluster`)."""
    version = settings.hdfs.version
    return resolve(
        HADOOP_POM, f"hadoop-{version}", {"hadoop.version": version}, f"Apache Hadoop {version}"
    )


def _artifact_of_path(jar: Path) -> str:
    # Maven repository layout: .../<artifactId>/<version>/<artifactId>-<version>.jar
    return jar.parent.parent.name


def doctor_check(settings: Settings) -> tuple[bool, str, str]:
    """For `retailpipe doctor`: is the connector cached, for the installed PySpark version?"""
    version = pyspark_version()
    jars = cached(f"spark-kafka-{version}")
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
