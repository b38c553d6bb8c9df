"""Build step of the Dockerfile: resolve every jar with retailpipe's own Maven code, then lay
them out for the three images.

    python stage_jars.py KAFKA_LIBS HADOOP_JARS

- Spark's Kafka connector and Hadoop stay in retailpipe's cache ($RETAILPIPE_CACHE_DIR), where
  the retailpipe image's stages find them; everything else Maven left there (its plugins, the
  broker's jars) is deleted, so the retailpipe image carries only the jars it runs.
- The Kafka broker's jars are copied flat into KAFKA_LIBS (the kafka image's class path).
- Hadoop's jars are copied flat into HADOOP_JARS (the hadoop image's class path).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from retailpipe.infra import jars
from retailpipe.settings import Settings, load_settings

CACHE_ENV = "RETAILPIPE_CACHE_DIR"


def _hadoop_jars(settings: Settings) -> list[Path]:
    """Hadoop's client and server jars; `hadoop_jars` lives in `jars` or (older) in `hdfs`."""
    if hasattr(jars, "hadoop_jars"):
        found = jars.hadoop_jars(settings)
    else:
        from retailpipe.infra import hdfs

        found = hdfs.hadoop_jars(settings)
    if isinstance(found, Path):  # a folder of jars
        return sorted(found.glob("*.jar"))
    return list(found)


def _copy_flat(sources: list[Path], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for jar in sources:
        shutil.copy2(jar, target / jar.name)
    print(f"{len(sources)} jars in {target}")


def _prune(cache: Path, keep: set[Path]) -> None:
    """Delete every file of the cache's Maven repository that no kept class path lists."""
    repo = cache / "m2"
    removed = 0
    for path in sorted(repo.rglob("*"), reverse=True):
        if path.is_file() and path.resolve() not in keep:
            path.unlink()
            removed += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    (cache / ".lock").unlink(missing_ok=True)
    print(f"kept {len(keep)} jars in {cache}, removed {removed} other files")


def main(kafka_libs: Path, hadoop_libs: Path) -> int:
    settings = load_settings()
    cache = Path(os.environ[CACHE_ENV]).resolve()
    (cache / "m2").mkdir(parents=True, exist_ok=True)
    # The broker is resolved through a cache of its own that shares the Maven repository, so
    # its class path list stays out of the retailpipe image's cache.
    broker_cache = Path(tempfile.mkdtemp(prefix="kafka-cache-"))
    (broker_cache / "m2").symlink_to(cache / "m2")
    os.environ[CACHE_ENV] = str(broker_cache)
    _copy_flat(jars.kafka_jars(settings), kafka_libs)
    os.environ[CACHE_ENV] = str(cache)
    jars.spark_kafka_jars(settings)
    _copy_flat(_hadoop_jars(settings), hadoop_libs)
    # Keep every jar a class path list names (the connector's list also names the jars
    # PySpark ships and filters out when read: without them it would count as incomplete).
    keep = {
        Path(item).resolve()
        for listing in (cache / "classpaths").glob("*.json")
        for item in json.loads(listing.read_text())
    }
    _prune(cache, keep)
    shutil.rmtree(broker_cache)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
