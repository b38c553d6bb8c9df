"""The one Maven runner: a pom beside this file -> its runtime jars, resolved once and cached.

Maven resolves into a private local repository under the cache folder (`~/.cache/retailpipe`,
env `RETAILPIPE_CACHE_DIR`) and the class path lands in a list file,
`classpaths/<key>.json`; later calls read that list and need neither Maven nor the network.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from retailpipe.errors import ServiceError
from retailpipe.infra.java import java_executable, require_java

log = logging.getLogger(__name__)

CACHE_ENV = "RETAILPIPE_CACHE_DIR"
MVN_TIMEOUT_S = 900


def cache_dir() -> Path:
    """The jar cache: $RETAILPIPE_CACHE_DIR, else ~/.cache/retailpipe."""
    configured = os.environ.get(CACHE_ENV)
    root = Path(configured).expanduser() if configured else Path.home() / ".cache" / "retailpipe"
    return root.resolve()


def resolve(pom_name: str, key: str, properties: dict[str, str], what: str) -> list[Path]:
    """The runtime class path of `pom_name` with `properties` set: from the list cached
    under `key`, else resolved with Maven (once per machine; concurrent callers wait)."""
    cache = cache_dir()
    listing = cache / "classpaths" / f"{key}.json"
    jars = cached(key)
    if jars is not None:
        return jars
    cache.mkdir(parents=True, exist_ok=True)
    with _lock(cache / ".lock"):
        jars = cached(key)  # another process may have resolved it meanwhile
        if jars is not None:
            return jars
        jars = _run_maven(pom_name, properties, cache, what)
        listing.parent.mkdir(parents=True, exist_ok=True)
        temp = listing.with_suffix(".tmp")
        temp.write_text(json.dumps([str(jar) for jar in jars], indent=1))
        temp.replace(listing)
        return jars


def cached(key: str) -> list[Path] | None:
    """The class path cached under `key`, None unless every jar in it is still there."""
    listing = cache_dir() / "classpaths" / f"{key}.json"
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


def _run_maven(pom_name: str, properties: dict[str, str], cache: Path, what: str) -> list[Path]:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(
            f"Maven (`mvn`) is needed once to fetch {what} and was not found",
            "install Maven (`apt-get install maven`) and rerun; the jars are cached after",
        )
    require_java()
    repo = cache / "m2"
    out_file = cache / "classpaths" / f".{pom_name}.{os.getpid()}.txt"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("retailpipe.infra").joinpath(pom_name)) as pom:
        args = [
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
        log.info("resolving %s with Maven into %s (first use only)", what, repo)
        # Offline first: a warm repository needs no network at all.
        result = _call(mvn, ["-o", *args]) if repo.is_dir() else None
        if result is None or result.returncode != 0:
            result = _call(mvn, args)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        raise ServiceError(
            f"Maven could not resolve {what} ({pom_name}): {tail}",
            "check that Maven Central is reachable (proxy or mirror in ~/.m2/settings.xml) "
            "and that the version is a published release",
        )
    text = out_file.read_text().strip()
    out_file.unlink(missing_ok=True)
    return [Path(item) for item in text.split(os.pathsep) if item]


def _call(mvn: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    java = java_executable()
    if java is not None and "JAVA_HOME" not in env:
        env["JAVA_HOME"] = str(java.resolve().parent.parent)
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
