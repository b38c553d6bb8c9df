"""Subprocesses the tests start, each in its own process group so that nothing outlives the
test: a Spark driver's JVM, a worker's Python, a server's threads go with the group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any


def kill_group(process: subprocess.Popen[Any], timeout_s: float = 60) -> None:
    """SIGKILL the process's whole group (it leads it: start_new_session) and reap it."""
    if process.poll() is None or _group_alive(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=timeout_s)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def run(
    command: Sequence[str], *, timeout: float, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(..., capture_output=True, text=True)` in a new process group that is
    killed as a whole when the command times out or the test is interrupted (plain
    `subprocess.run` kills only the direct child and leaves its JVM behind)."""
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        kill_group(process)
        raise
    if _group_alive(process.pid):  # a grandchild left running after the command ended
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
