"""JvmService's life cycle and the port check, with a small real Python server as the JVM."""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path

import pytest

from retailpipe.errors import ServiceError
from retailpipe.infra.ports import LOOPBACK, answers, bind_error
from retailpipe.infra.service import JvmService, Port, alive
from tests.fixtures.services import free_port

MARKER = "retailpipe-test-service"


def _server(port: int) -> list[str]:
    """A command line that listens on `port` until SIGTERM (MARKER names it in /proc)."""
    script = (
        f"# {MARKER}\n"
        "import socket, time\n"
        f"s = socket.create_server(('127.0.0.1', {port}))\n"
        "time.sleep(600)\n"
    )
    return [sys.executable, "-c", script]


def _service(root: Path, port: int, ready: bool | None = None) -> JvmService:
    return JvmService(
        name="Test",
        command="test",
        root=root,
        main_class=MARKER,
        address=f"{LOOPBACK}:{port}",
        ports=(Port(port, "test.port", "--port"),),
        ready=(lambda: answers(LOOPBACK, port, 0.5)) if ready is None else (lambda: ready),
        more_time="--timeout",
    )


def test_bind_error_tells_a_listener_from_a_free_port() -> None:
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen()
        port = listener.getsockname()[1]
        error = bind_error(LOOPBACK, port)
        assert error is not None and error.errno == errno.EADDRINUSE
        assert answers(LOOPBACK, port)
    assert bind_error(LOOPBACK, port) is None
    assert not answers(LOOPBACK, port, 0.5)


def test_start_waits_until_it_answers_and_stop_ends_it(tmp_path: Path) -> None:
    port = free_port()
    service = _service(tmp_path / "test", port)
    try:
        pid = service.start(lambda: _server(port), timeout_s=30)
        assert answers(LOOPBACK, port)
        assert service.pid() == pid
        assert service.pid_file.read_text() == f"{pid}\n"
        assert service.start(lambda: _server(port), timeout_s=30) == pid, "one that runs is kept"
    finally:
        stopped = service.stop(timeout_s=10)
    assert stopped and not alive(pid)
    assert not service.pid_file.exists()
    assert not service.stop(), "a second stop has nothing to stop"
    assert service.log_file.read_text().count("--- retailpipe test up ") == 1


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        service = _service(tmp_path / "test", port)
        with pytest.raises(ServiceError) as caught:
            service.start(lambda: _server(port), timeout_s=5)
    assert caught.value.message == f"port {port} on {LOOPBACK} is already in use (test.port)"
    assert "--port or RETAILPIPE_TEST__PORT" in (caught.value.fix or "")
    assert not service.log_file.exists()


def test_an_exit_during_start_up_quotes_this_run_of_the_log(tmp_path: Path) -> None:
    service = _service(tmp_path / "test", free_port())
    service.root.mkdir(parents=True)
    service.log_file.write_text("\n--- retailpipe test up 2026-01-01T00:00:00 ---\nERROR old\n")
    crash = "print('java.lang.IllegalStateException: boom'); raise SystemExit(3)"
    with pytest.raises(ServiceError) as caught:
        service.start(lambda: [sys.executable, "-c", f"# {MARKER}\n{crash}"], timeout_s=30)
    assert caught.value.message == (
        "Test exited during start-up (code 3): java.lang.IllegalStateException: boom"
    )
    assert not service.pid_file.exists()


def test_one_that_never_answers_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    port = free_port()
    service = _service(tmp_path / "test", port, ready=False)
    with pytest.raises(ServiceError, match=r"Test did not answer on .* within 2 s") as caught:
        service.start(lambda: _server(port), timeout_s=2)
    assert "--timeout" in (caught.value.fix or "")
    assert service.pid() is None
    assert bind_error(LOOPBACK, port) is None, "the process that held the port is gone"
