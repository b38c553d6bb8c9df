"""Finding Java and checking its version (Spark 4 and Kafka 4 need Java 17+)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from retailpipe.errors import ServiceError

MIN_JAVA = 17


def java_executable() -> Path | None:
    """The `java` binary Spark will use: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return Path(home) / "bin" / "java"
    found = shutil.which("java")
    return Path(found) if found else None


@functools.cache
def java_version() -> int | None:
    """The major version of that Java, or None when there is none."""
    java = java_executable()
    if java is None:
        return None
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java() -> int:
    """Fail with one clear line unless Java 17+ is available."""
    version = java_version()
    if version is None:
        raise ServiceError(
            "Java was not found (Spark and Kafka need Java 17 or newer)",
            "install a JDK 17+ (e.g. `apt-get install openjdk-17-jdk-headless`) or set JAVA_HOME",
        )
    if version < MIN_JAVA:
        raise ServiceError(
            f"Java {version} is too old (Spark and Kafka need Java {MIN_JAVA} or newer)",
            "install a JDK 17+ and point JAVA_HOME at it",
        )
    return version
