"""The local development Kafka broker: one KRaft JVM (broker + controller) on 127.0.0.1.

Everything it writes lives under `<runtime_dir>/kafka/`: `server.properties`, the data
directory, `kafka.log` (the JVM's output) and `kafka.pid`.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retailpipe.errors import ServiceError
from retailpipe.infra.jars import kafka_classpath
from retailpipe.infra.java import java_executable
from retailpipe.infra.ports import LOOPBACK, answers
from retailpipe.infra.service import STOP_TIMEOUT_S, JvmService, Port
from retailpipe.settings import Settings

log = logging.getLogger(__name__)

MAIN_CLASS = "kafka.Kafka"
START_TIMEOUT_S = 90.0

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


def service(settings: Settings) -> JvmService:
    """The local broker as a JvmService: files under `<runtime_dir>/kafka`, two ports."""
    local = settings.kafka.local
    address = bootstrap(settings)
    return JvmService(
        name="Kafka",
        command="kafka",
        root=Path(settings.runtime_dir).expanduser().resolve() / "kafka",
        main_class=MAIN_CLASS,
        address=address,
        ports=(
            Port(local.port, "kafka.local.port", "--port"),
            Port(local.controller_port, "kafka.local.controller_port", "--controller-port"),
        ),
        ready=lambda: answers(LOOPBACK, local.port, 1.0) and _metadata_answers(address),
        more_time="--timeout",
    )


def bootstrap(settings: Settings) -> str:
    """The bootstrap address of the local broker."""
    return f"{LOOPBACK}:{settings.kafka.local.port}"


def server_properties(settings: Settings, data: Path) -> str:
    """A single-node KRaft configuration: every replication factor and min ISR is 1."""
    local = settings.kafka.local
    client, controller = f"{LOOPBACK}:{local.port}", f"{LOOPBACK}:{local.controller_port}"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{controller}",
        "listeners": f"PLAINTEXT://{client},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{client}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data),
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
    broker = service(settings)
    pid = broker.pid()
    answering = pid is not None and answers(LOOPBACK, settings.kafka.local.port, 1.0)
    return BrokerStatus(pid is not None, pid, broker.address, answering, broker.log_file)


def start(settings: Settings, *, timeout_s: float = START_TIMEOUT_S) -> BrokerStatus:
    """Start the broker in the background (formatting its data folder the first time) and
    wait until it answers. Does nothing if it already runs."""
    broker = service(settings)
    broker.start(lambda: _prepare(settings, broker), timeout_s)
    return status(settings)


def stop(settings: Settings, *, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop the broker: SIGTERM (a clean shutdown), then SIGKILL after `timeout_s`.
    Returns False when it was not running."""
    return service(settings).stop(timeout_s)


def kill(settings: Settings) -> None:
    """SIGKILL the broker, as a crash would (for failure tests)."""
    service(settings).kill()


def _prepare(settings: Settings, broker: JvmService) -> list[str]:
    """Write the broker's configuration, format its data folder once; its command line."""
    config = broker.root / "server.properties"
    log4j = broker.root / "log4j2.properties"
    config.write_text(server_properties(settings, broker.data))
    log4j.write_text(LOG4J2)
    heap = settings.kafka.local.heap
    java = [
        str(java_executable()),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile=file:{log4j}",
        f"-Dkafka.logs.dir={broker.root}",
        "-cp",
        kafka_classpath(settings),
    ]
    if not (broker.data / "meta.properties").is_file():
        _format(java, config, broker.data)
    return [*java, MAIN_CLASS, str(config)]


def _format(java: list[str], config: Path, data: Path) -> None:
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    command = [
        *java,
        "kafka.tools.StorageTool",
        "format",
        f"--cluster-id={cluster_id}",
        "-c",
        str(config),
        "--ignore-formatted",
    ]
    log.info("formatting the Kafka data folder %s", data)
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        raise ServiceError(
            f"formatting the Kafka data folder failed: {tail}",
            f"remove {data} and run `retailpipe kafka up` again",
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
