"""Drive one Compose stack from a test: up, wait, run one-off services, copy files out, down.

Every stack runs under its own project name with host ports picked free on 127.0.0.1, and
`down -v` removes its containers, network and volumes whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOG_TAIL = 300
INSTALL_HINT = (
    "install a Compose CLI: apt-get install -y docker-compose (or the docker compose plugin)"
)
PORT_VARIABLES = (
    "RETAILPIPE_NAMENODE_UI_PORT",
    "RETAILPIPE_SPARK_UI_PORT",
    "RETAILPIPE_BATCH_PORT",
    "RETAILPIPE_STREAM_PORT",
    "RETAILPIPE_KAFKA_PORT",
)


def compose_command() -> list[str]:
    """`docker compose` (v2 plugin) when present, else Debian's `docker-compose`; LookupError
    when there is neither."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        raise LookupError(INSTALL_HINT)
    return [legacy]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """One running Compose project of `compose/<name>.yml`."""

    def __init__(self, name: str, settings: dict[str, str]) -> None:
        self.name = name
        self.project = f"retailpipe-test-{name}"
        self.file = REPO / "compose" / f"{name}.yml"
        self.env = dict(os.environ, **{v: str(free_port()) for v in PORT_VARIABLES}, **settings)

    def compose(self, *args: str, timeout_s: float = 600, check: bool = True) -> str:
        command = [*compose_command(), "-p", self.project, "-f", str(self.file), *args]
        result = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"`{' '.join(command[-len(args) - 4 :])}` exited {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result.stdout

    def up(self, *services: str, timeout_s: float = 1200) -> None:
        """Create and start `services` (all when none) and what they depend on; Compose waits
        for the health checks and one-shot services their dependents need."""
        self.compose("up", "-d", "--no-build", *services, timeout_s=timeout_s)

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "30", check=False)

    def run(self, service: str, *command: str, timeout_s: float = 900) -> str:
        """A one-off container of `service` (its image, volumes, network and config) running
        `command` instead of the service's own, without starting its dependencies."""
        return self.compose(
            "run", "--rm", "--no-deps", "-T", service, *command, timeout_s=timeout_s
        )

    def container(self, service: str) -> str:
        """The id of the service's (first) container, running or exited."""
        ids = subprocess.run(
            [
                "docker",
                "ps",
                "-aq",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--filter",
                f"label=com.docker.compose.service={service}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert ids, f"no container for {service}"
        return ids[0]

    def state(self, service: str) -> dict[str, Any]:
        out = subprocess.run(
            ["docker", "inspect", "--format", "{{json .State}}", self.container(service)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(json.loads(out))

    def wait_exited(self, service: str, timeout_s: float = 600) -> int:
        """Wait for a one-shot service to finish; its exit code."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.state(service)
            if state["Status"] == "exited":
                return int(state["ExitCode"])
            time.sleep(1)
        raise AssertionError(f"{service} still runs after {timeout_s:.0f} s")

    def wait_healthy(self, service: str, timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.state(service)
            assert state["Status"] in {"created", "running", "restarting"}, (
                f"{service} is {state['Status']} (exit {state.get('ExitCode')})"
            )
            if state.get("Health", {}).get("Status") == "healthy":
                return
            time.sleep(1)
        raise AssertionError(f"{service} not healthy after {timeout_s:.0f} s")

    def copy_out(self, service: str, path: str, target: Path) -> Path:
        """`docker cp` a folder out of a service's container (its volumes included)."""
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["docker", "cp", f"{self.container(service)}:{path}", str(target)],
            capture_output=True,
            text=True,
            check=True,
        )
        return target / Path(path).name

    def port(self, variable: str) -> int:
        return int(self.env[variable])

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", str(LOG_TAIL), check=False)

    @contextlib.contextmanager
    def logs_on_failure(self) -> Iterator[None]:
        """On any failure inside, print every container's log (the test's captured output)."""
        try:
            yield
        except BaseException:
            print(f"===== logs of the {self.name} stack (last {LOG_TAIL} lines each) =====")
            print(self.compose("ps", check=False))
            print(self.logs())
            sys.stdout.flush()
            raise


@contextlib.contextmanager
def running(name: str, settings: dict[str, str]) -> Iterator[Stack]:
    """A stack that is taken down (volumes too) on the way out, whatever happened."""
    stack = Stack(name, settings)
    stack.down()  # a run killed before its clean-up left this project behind
    try:
        yield stack
    finally:
        stack.down()


class Api:
    """GET JSON from a dashboard published on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> Response:
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as reply:
                return Response(reply.status, reply.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read())


class Response:
    """The part of Flask's test response the shared API checks use."""

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.body = body

    def get_data(self, as_text: bool = False) -> str | bytes:
        return self.body.decode() if as_text else self.body

    def get_json(self) -> Any:
        return json.loads(self.body)
