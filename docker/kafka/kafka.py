"""Entry point of the kafka image: KAFKA_* variables -> server.properties, format once, run.

Variables follow the official Apache Kafka image: KAFKA_NODE_ID=1 becomes node.id=1
(`_` -> `.`, `__` -> `_`, `___` -> `-`); variables ending in _OPTS are JVM options, not
properties (KAFKA_HEAP_OPTS, default -Xmx512m -Xms512m). CLUSTER_ID names the cluster the
first time the log folder (KAFKA_LOG_DIRS) is formatted. Arguments are passed to the broker
as `--override key=value`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HOME = Path("/opt/kafka")
CONFIG = HOME / "config" / "server.properties"
CLASSPATH = str(HOME / "libs" / "*")


def property_name(variable: str) -> str:
    """KAFKA_LOG_DIRS -> log.dirs; `__` -> `_` and `___` -> `-` as in the official image."""
    name = variable.removeprefix("KAFKA_").lower()
    return re.sub(r"_+", lambda m: {1: ".", 2: "_", 3: "-"}.get(len(m.group()), "."), name)


def properties(environ: dict[str, str]) -> dict[str, str]:
    return {
        property_name(key): value
        for key, value in sorted(environ.items())
        if key.startswith("KAFKA_") and not key.endswith("_OPTS")
    }


def java(environ: dict[str, str]) -> list[str]:
    heap = environ.get("KAFKA_HEAP_OPTS", "-Xmx512m -Xms512m").split()
    extra = environ.get("KAFKA_OPTS", "").split()
    return [
        "java",
        *heap,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile=file:{HOME / 'config' / 'log4j2.properties'}",
        *extra,
        "-cp",
        CLASSPATH,
    ]


def main(args: list[str]) -> int:
    environ = dict(os.environ)
    props = properties(environ)
    if "log.dirs" not in props:
        print("error: set KAFKA_LOG_DIRS (the broker's data folder)", file=sys.stderr)
        return 2
    CONFIG.parent.mkdir(parents=True, exist_ok=True)
    CONFIG.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
    log_dir = Path(props["log.dirs"].split(",")[0])
    if not (log_dir / "meta.properties").is_file():
        cluster_id = environ.get("CLUSTER_ID")
        if not cluster_id:
            print("error: set CLUSTER_ID to format a new log folder", file=sys.stderr)
            return 2
        format_cmd = [*java(environ), "kafka.tools.StorageTool", "format"]
        format_cmd += [f"--cluster-id={cluster_id}", "-c", str(CONFIG), "--ignore-formatted"]
        subprocess.run(format_cmd, check=True)
    overrides = [item for arg in args for item in ("--override", arg)]
    os.execvp("java", [*java(environ), "kafka.Kafka", str(CONFIG), *overrides])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
