"""A background JVM the project runs for development (the Kafka broker, HDFS).

Each keeps its files under `<runtime_dir>/<command>/`: `<command>.pid`, `<command>.log` (the
JVM's output, appended run after run) and `data/`. Starting checks Java and the ports,
launches the JVM in its own session and waits until it answers; stopping sends SIGTERM,
then SIGKILL.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retailpipe.errors import ServiceError
from retailpipe.infra.java import require_java
from retailpipe.infra.ports import LOOPBACK, bind_error

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0
KILL_TIMEOUT_S = 10.0
BANNER = "--- retailpipe "


@dataclass(frozen=True)
class Port:
    """A port a service listens on, with the setting and the `up` flag that choose it."""

    number: int
    setting: str
    flag: str

    @property
    def env(self) -> str:
        return "RETAILPIPE_" + self.setting.upper().replace(".", "__")


@dataclass(frozen=True)
class JvmService:
    """One development JVM: where its files are, how to tell it is ready, what to say."""

    name: str  # in messages: "Kafka", "HDFS"
    command: str  # its sub-command (`retailpipe kafka up`) and the stem of its file names
    root: Path
    main_class: str  # in the JVM's command line: tells our process from a reused pid
    address: str  # where it serves, for messages
    ports: tuple[Port, ...]
    ready: Callable[[], bool]  # does it serve requests yet?
    more_time: str  # the setting or flag that gives the start more time

    @property
    def pid_file(self) -> Path:
        return self.root / f"{self.command}.pid"

    @property
    def log_file(self) -> Path:
        return self.root / f"{self.command}.log"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def pid(self) -> int | None:
        """The pid in the pid file if that process is alive and is this service's JVM."""
        return pid_from_file(self.pid_file, self.main_class)

    def start(self, prepare: Callable[[], list[str]], timeout_s: float) -> int:
        """Start the JVM in the background and wait until it is ready; `prepare` writes its
        files and returns its command line. One that already runs is only waited for."""
        pid = self.pid()
        if pid is not None:
            log.info("%s already runs (pid %d)", self.name, pid)
            self._wait_ready(pid, None, timeout_s)
            return pid
        require_java()
        for port in self.ports:
            self._require_free(port)
        self.root.mkdir(parents=True, exist_ok=True)
        process = self._launch(prepare())
        self._wait_ready(process.pid, process, timeout_s)
        return process.pid

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """SIGTERM (a clean shutdown), then SIGKILL after `timeout_s`; False when it was
        not running."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        log.info("stopping %s (pid %d)", self.name, pid)
        _signal_group(pid, signal.SIGTERM)
        if not _ended(pid, timeout_s):
            log.warning("%s did not stop within %.0f s; killing it", self.name, timeout_s)
            _kill(pid)
        return True

    def kill(self) -> None:
        """SIGKILL the JVM, as a crash would (for failure tests); the pid file stays."""
        pid = self.pid()
        if pid is not None:
            _kill(pid)

    def log_tail(self, lines: int = 3) -> str:
        """The last error lines of the latest run's log (else its last lines), on one line."""
        run = self._latest_run()
        interesting = [line for line in run if "ERROR" in line or "Exception" in line] or run
        return " | ".join(line.strip()[:300] for line in interesting[-lines:]) or "no log"

    def _require_free(self, port: Port) -> None:
        error = bind_error(LOOPBACK, port.number)
        if error is None:
            return
        taken = error.errno == errno.EADDRINUSE
        state = "is already in use" if taken else f"cannot be used ({error.strerror})"
        raise ServiceError(
            f"port {port.number} on {LOOPBACK} {state} ({port.setting})",
            f"stop what listens there (`ss -ltnp 'sport = :{port.number}'`) or choose "
            f"another port ({port.flag} or {port.env})",
        )

    def _launch(self, command: list[str]) -> subprocess.Popen[bytes]:
        with self.log_file.open("ab") as out:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            out.write(f"\n{BANNER}{self.command} up {stamp} ---\n".encode())
            out.flush()
            # Own session: Ctrl-C in the terminal that started it does not reach the JVM,
            # and stop() signals its whole process group.
            process = subprocess.Popen(
                command,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        log.info(
            "%s starting (pid %d) on %s, log %s",
            self.name,
            process.pid,
            self.address,
            self.log_file,
        )
        return process

    def _wait_ready(
        self, pid: int, process: subprocess.Popen[bytes] | None, timeout_s: float
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            exited = process.poll() is not None if process is not None else not alive(pid)
            if exited:
                self.pid_file.unlink(missing_ok=True)
                raise self._start_failure(process.returncode if process is not None else None)
            if self.ready():
                return
            time.sleep(0.5)
        self.stop()
        raise ServiceError(
            f"{self.name} did not answer on {self.address} within {timeout_s:.0f} s",
            f"read {self.log_file}; on a busy machine allow more time ({self.more_time})",
        )

    def _start_failure(self, code: int | None) -> ServiceError:
        run = self._latest_run()
        if any("BindException" in line or "Address already in use" in line for line in run):
            return ServiceError(
                f"{self.name} could not bind one of its ports (already in use)",
                "stop the other process or choose other ports ("
                + ", ".join(port.setting for port in self.ports)
                + ")",
            )
        how = f" (code {code})" if code is not None else ""
        return ServiceError(
            f"{self.name} exited during start-up{how}: {self.log_tail()}",
            f"read {self.log_file}; `retailpipe {self.command} down` then `up` retries, "
            f"deleting {self.data} starts it empty",
        )

    def _latest_run(self) -> list[str]:
        """The log lines the latest start wrote (after its banner)."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return []
        _, banner, run = text.rpartition(f"\n{BANNER}")
        lines = run.strip().splitlines()
        return lines[1:] if banner else lines


def alive(pid: int) -> bool:
    """Whether `pid` runs; reaps it first when it is our own child that has exited."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_from_file(pid_file: Path, marker: str) -> int | None:
    """The pid in `pid_file` if that process is alive and its command line holds `marker`."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if not alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid  # no /proc (macOS): trust the pid file
    return pid if marker.encode() in cmdline else None


def _ended(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _kill(pid: int) -> None:
    _signal_group(pid, signal.SIGKILL)
    _ended(pid, KILL_TIMEOUT_S)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The JVM leads its own session (start_new_session), so its group is the JVM and
    # anything it forked.
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
