#!/usr/bin/env python3
"""Build the images the Compose stacks run, as the stacks' `build:` sections describe them.

    scripts/compose_build.py [--base-image IMAGE] [--jar-cache DIR] [--ca-bundle FILE]

One image at a time, with BuildKit, so the layers they share (the Java runtime, PySpark, the
jars) are built once and reused from the cache by the next build and the next run.

  --base-image  BASE_IMAGE build argument: a Debian bookworm image; on a machine without
                registry access make one with scripts/docker-base-image.sh.
  --jar-cache   a retailpipe jar cache (default: $RETAILPIPE_CACHE_DIR or ~/.cache/retailpipe
                when it holds m2/); its Maven repository seeds the build, which then resolves
                offline. `--jar-cache ''` downloads from Maven Central instead.
  --ca-bundle   a PEM bundle of CA certificates for a TLS-inspecting proxy, given to the build
                stage as a BuildKit secret (never part of an image).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
STACKS = ("batch", "stream")
SEED_IMAGE = "retailpipe-jar-seed:local"


def compose_command() -> list[str]:
    """`docker compose` (the v2 plugin) when present, else `docker-compose` (v1)."""
    docker = shutil.which("docker")
    if docker and _quiet([docker, "compose", "version"]):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    sys.exit("error: no Compose found; fix: apt-get install -y docker-compose")


def buildkit_docker() -> tuple[list[str], dict[str, str]]:
    """A docker CLI that builds with BuildKit: `docker buildx build --load`, or a CLI older than
    23 (which has BuildKit built in) with DOCKER_BUILDKIT=1."""
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    candidates = [shutil.which("docker"), "/usr/bin/docker"]
    for docker in dict.fromkeys(c for c in candidates if c and Path(c).exists()):
        if _quiet([docker, "buildx", "version"]):
            return [docker, "buildx", "build", "--load"], env
        version = subprocess.run(
            [docker, "version", "--format", "{{.Client.Version}}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if version and int(version.split(".")[0]) < 23:
            return [docker, "build"], env
    sys.exit(
        "error: no docker CLI that builds with BuildKit; "
        "fix: install the buildx plugin (Debian: docker-buildx) or Debian's docker.io CLI"
    )


def _quiet(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def images(compose: list[str]) -> dict[str, dict[str, Any]]:
    """image name -> its build section, over both stacks (one entry per image)."""
    found: dict[str, dict[str, Any]] = {}
    for stack in STACKS:
        rendered = subprocess.run(
            [*compose, "-f", str(REPO / "compose" / f"{stack}.yml"), "config"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for service in yaml.safe_load(rendered)["services"].values():
            build = service.get("build")
            if build is None:
                continue
            known = found.setdefault(service["image"], build)
            if known != build:
                sys.exit(f"error: {service['image']} is built two ways in the Compose files")
    return found


def default_jar_cache() -> Path | None:
    configured = os.environ.get("RETAILPIPE_CACHE_DIR")
    cache = Path(configured) if configured else Path.home() / ".cache" / "retailpipe"
    return cache if (cache / "m2").is_dir() else None


def build_seed(docker: list[str], env: dict[str, str], cache: Path) -> str:
    """An image holding the cache's Maven repository (and, in the older layout, its Hadoop
    folders), for the Dockerfile's JAR_SEED stage."""
    lines = ["FROM scratch", "COPY m2 /m2"]
    lines += [
        f"COPY {folder.name} /{folder.name}"
        for folder in sorted(cache.glob("hadoop-*"))
        if (folder / ".complete").is_file()
    ]
    command = [*docker, "-q", "-t", SEED_IMAGE, "-f", "-", str(cache)]
    subprocess.run(command, input="\n".join(lines) + "\n", text=True, env=env, check=True)
    return SEED_IMAGE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-image")
    parser.add_argument("--jar-cache", type=lambda s: Path(s) if s else None)
    parser.add_argument("--ca-bundle", type=Path)
    args = parser.parse_args()
    compose = compose_command()
    docker, env = buildkit_docker()
    extra: list[str] = []
    if args.base_image:
        extra += ["--build-arg", f"BASE_IMAGE={args.base_image}"]
    if args.ca_bundle:
        extra += ["--secret", f"id=ca,src={args.ca_bundle.resolve()}"]
    cache = args.jar_cache if "--jar-cache" in sys.argv else default_jar_cache()
    started = time.monotonic()
    if cache is not None:
        extra += ["--build-arg", f"JAR_SEED={build_seed(docker, env, cache)}"]
    for image, build in images(compose).items():
        began = time.monotonic()
        command = [*docker, "-t", image, "-f", str(Path(build["context"]) / build["dockerfile"])]
        if build.get("target"):
            command += ["--target", build["target"]]
        for name, value in (build.get("args") or {}).items():
            command += ["--build-arg", f"{name}={value}"]
        print(f"building {image}", flush=True)
        subprocess.run([*command, *extra, build["context"]], env=env, check=True)
        print(f"built {image} in {time.monotonic() - began:.0f} s", flush=True)
    print(f"images built in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
