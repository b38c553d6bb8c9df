"""The local development Kafka broker: one KRaft JVM (broker + controller) on 127.0.0.1.

Everything it writes lives under `<runtime_dir>/kafka/`: `server.properties`, the data
directory, `kafka.log` (the JVM's output) and `kafka.pid`.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retailpipe.errors import ServiceError
from retailpipe.infra.java import java_executable, require_java
from retailpipe.infra.process import alive, pid_from_file
from retailpipe.settings import Settings

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAIN_CLASS = "kafka.Kafka"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
"""


@dataclass(frozen=True)
class BrokerFiles:
    """Where one local broker keeps its files."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.root / "log4j2.properties"

    @property
    def log(self) -> Path:
        return self.root / "kafka.log"

    @property
    def pid(self) -> Path:
        return self.root / "kafka.pid"


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    answers: bool
    log: Path

    def describe(self) -> str:
        if not self.running:
            return f"not running (log: {self.log})"
        state = "answering" if self.answers else "started, not answering yet"
        return f"running, pid {self.pid}, {state} on {self.bootstrap} (log: {self.log})"


def broker_files(settings: Settings) -> BrokerFiles:
    return BrokerFiles(Path(settings.runtime_dir).expanduser().resolve() / "kafka")


def bootstrap(settings: Settings) -> str:
    """The bootstrap address of the local broker."""
    return f"{HOST}:{settings.kafka.local.port}"


def server_properties(settings: Settings, files: BrokerFiles) -> str:
    """A single-node KRaft configuration: every replication factor and min ISR is 1."""
    local = settings.kafka.local
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{local.controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{local.port},CONTROLLER://{HOST}:{local.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{local.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(files.data),
        "num.partitions": str(settings.kafka.partitions),
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        # Few internal partitions: a laptop broker starts and joins groups faster.
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.retention.hours": "168",
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def status(settings: Settings) -> BrokerStatus:
    """Whether the local broker runs (by its pid file) and answers on its port."""
    files = broker_files(settings)
    pid = _running_pid(files)
    address = bootstrap(settings)
    answers = pid is not None and _port_open(settings.kafka.local.port)
    return BrokerStatus(pid is not None, pid, address, answers, files.log)


def start(settings: Settings, *, timeout_s: float = START_TIMEOUT_S) -> BrokerStatus:
    """Start the broker in the background (formatting its data folder the first time) and
    wait until it answers. Does nothing if it already runs."""
    from retailpipe.infra.jars import kafka_classpath

    files = broker_files(settings)
    current = status(settings)
    if current.running:
        log.info("Kafka already runs (pid %s)", current.pid)
        return _wait_ready(settings, current.pid or 0, files, timeout_s)
    require_java()
    local = settings.kafka.local
    for name, port in (("port", local.port), ("controller_port", local.controller_port)):
        _require_free_port(port, name)
    classpath = kafka_classpath(settings)
    files.root.mkdir(parents=True, exist_ok=True)
    files.config.write_text(server_properties(settings, files))
    files.log4j.write_text(LOG4J2)
    if not (files.data / "meta.properties").is_file():
        _format(settings, files, classpath)
    pid = _launch(settings, files, classpath)
    return _wait_ready(settings, pid, files, timeout_s)


def stop(settings: Settings, *, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop the broker: SIGTERM (a clean shutdown), then SIGKILL after `timeout_s`.
    Returns False when it was not running."""
    files = broker_files(settings)
    pid = _running_pid(files)
    if pid is None:
        files.pid.unlink(missing_ok=True)
        return False
    log.info("stopping Kafka (pid %s)", pid)
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.2)
    if alive(pid):
        log.warning("Kafka did not stop within %.0f s; killing it", timeout_s)
        _signal(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.1)
    files.pid.unlink(missing_ok=True)
    return True


def kill(settings: Settings) -> None:
    """SIGKILL the broker, as a crash would (for failure tests)."""
    files = broker_files(settings)
    pid = _running_pid(files)
    if pid is not None:
        _signal(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)


def _java_command(settings: Settings, files: BrokerFiles, classpath: str) -> list[str]:
    heap = settings.kafka.local.heap
    return [
        str(java_executable()),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile=file:{files.log4j}",
        f"-Dkafka.logs.dir={files.root}",
        "-cp",
        classpath,
    ]


def _format(settings: Settings, files: BrokerFiles, classpath: str) -> None:
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    command = [
        *_java_command(settings, files, classpath),
        "kafka.tools.StorageTool",
        "format",
        f"--cluster-id={cluster_id}",
        "-c",
        str(files.config),
        "--ignore-formatted",
    ]
    log.info("formatting the Kafka data folder %s", files.data)
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        raise ServiceError(
            f"formatting the Kafka data folder failed: {tail}",
            f"remove {files.data} and run `retailpipe kafka up` again",
        )


def _launch(settings: Settings, files: BrokerFiles, classpath: str) -> int:
    command = [*_java_command(settings, files, classpath), MAIN_CLASS, str(files.config)]
    with files.log.open("ab") as out:
        out.write(f"\n--- retailpipe kafka up {time.strftime('%Y-%m-%dT%H:%M:%S')} ---\n".encode())
        out.flush()
        # Own session: Ctrl-C in the terminal that started it does not reach the broker.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=files.root,
            start_new_session=True,
            close_fds=True,
        )
    files.pid.write_text(f"{process.pid}\n")
    log.info("Kafka starting (pid %s) on %s, log %s", process.pid, bootstrap(settings), files.log)
    return process.pid


def _wait_ready(settings: Settings, pid: int, files: BrokerFiles, timeout_s: float) -> BrokerStatus:
    deadline = time.monotonic() + timeout_s
    port = settings.kafka.local.port
    while time.monotonic() < deadline:
        if not alive(pid):
            files.pid.unlink(missing_ok=True)
            raise ServiceError(
                f"the Kafka broker exited during start-up: {_log_tail(files.log)}",
                f"read {files.log}",
            )
        if _port_open(port) and _metadata_answers(bootstrap(settings)):
            return BrokerStatus(True, pid, bootstrap(settings), True, files.log)
        time.sleep(0.5)
    raise ServiceError(
        f"the Kafka broker (pid {pid}) did not answer on {bootstrap(settings)} "
        f"within {timeout_s:.0f} s",
        f"read {files.log}; `retailpipe kafka down` stops it",
    )


def _metadata_answers(address: str) -> bool:
    from confluent_kafka.admin import AdminClient

    quiet = logging.getLogger(f"{__name__}.librdkafka")
    quiet.setLevel(logging.CRITICAL)
    config: dict[str, Any] = {"bootstrap.servers": address, "logger": quiet}
    admin = AdminClient(config)
    try:
        return bool(admin.list_topics(timeout=3).brokers)
    except Exception:  # KafkaException while the broker finishes starting
        return False


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    interesting = [line for line in text if "ERROR" in line or "Exception" in line] or text
    return " | ".join(line.strip()[:300] for line in interesting[-lines:])


def _require_free_port(port: int, name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the JVM does: ports in TIME_WAIT after a stop are free, only listeners are not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise ServiceError(
                f"port {port} on {HOST} is already in use (kafka.local.{name})",
                f"stop what listens there (`ss -ltnp 'sport = :{port}'`) or choose "
                f"another port (RETAILPIPE_KAFKA__LOCAL__{name.upper()} or --port)",
            ) from None


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


def _running_pid(files: BrokerFiles) -> int | None:
    """The pid from the pid file if that process is alive and is a Kafka broker."""
    return pid_from_file(files.pid, MAIN_CLASS)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
