"""The local Kafka broker: it answers real clients, starts and stops, and fails clearly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from retailpipe.errors import ServiceError
from retailpipe.infra import kafka_broker
from retailpipe.settings import Settings
from tests.fixtures.services import broker_settings

RETAILPIPE = [sys.executable, "-m", "retailpipe"]


def _cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RETAILPIPE, *args],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.integration
def test_session_broker_round_trips_a_message(kafka_broker: str) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_broker})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    delivered: list[object] = []
    producer = Producer({"bootstrap.servers": kafka_broker, "acks": "all"})
    producer.produce(
        topic, key=b"S001", value=b"hello", on_delivery=lambda err, _: delivered.append(err)
    )
    assert producer.flush(30) == 0
    assert delivered == [None]
    consumer = Consumer(
        {"bootstrap.servers": kafka_broker, "group.id": topic, "auto.offset.reset": "earliest"}
    )
    try:
        consumer.subscribe([topic])
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert (message.key(), message.value()) == (b"S001", b"hello")
    finally:
        consumer.close()


@pytest.mark.integration
def test_status_reports_the_session_broker(kafka_broker_settings: Settings) -> None:
    status = kafka_broker.status(kafka_broker_settings)
    assert status.running and status.answers
    assert status.bootstrap == kafka_broker_settings.kafka.bootstrap_servers
    assert status.pid is not None
    assert Path(f"/proc/{status.pid}/cmdline").read_bytes().find(b"kafka.Kafka") >= 0
    assert status.log.is_file()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    settings = broker_settings(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.kafka.local.port))
        squatter.listen()
        with pytest.raises(ServiceError, match=rf"port {settings.kafka.local.port} .* in use"):
            kafka_broker.start(settings, timeout_s=5)
    assert not kafka_broker.status(settings).running


def test_missing_java_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path / "empty-bin")
    env["RETAILPIPE_RUNTIME_DIR"] = str(tmp_path / "runtime")
    result = _cli(["kafka", "up", "--port", "1"], tmp_path, env)
    assert result.returncode == 3, result.stderr
    assert "Java was not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_cli_up_status_down_keeps_topics_across_restarts(tmp_path: Path) -> None:
    settings = broker_settings(tmp_path / "runtime")
    port = settings.kafka.local.port
    env = dict(os.environ)
    env["RETAILPIPE_RUNTIME_DIR"] = settings.runtime_dir
    env["RETAILPIPE_KAFKA__LOCAL__PORT"] = str(port)
    env["RETAILPIPE_KAFKA__LOCAL__CONTROLLER_PORT"] = str(settings.kafka.local.controller_port)
    try:
        up = _cli(["kafka", "up"], tmp_path, env)
        assert up.returncode == 0, up.stderr
        assert f"127.0.0.1:{port}" in up.stdout
        status = _cli(["kafka", "status"], tmp_path, env)
        assert status.returncode == 0 and "answering" in status.stdout
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
        admin.create_topics([NewTopic("kept", 2, 1)])["kept"].result(30)
        del admin

        down = _cli(["kafka", "down"], tmp_path, env)
        assert down.returncode == 0 and "stopped" in down.stdout
        assert _cli(["kafka", "status"], tmp_path, env).returncode == 1
        assert not _listening(port)

        assert _cli(["kafka", "up"], tmp_path, env).returncode == 0
        topics = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"}).list_topics(timeout=30)
        assert "kept" in topics.topics
        assert len(topics.topics["kept"].partitions) == 2
    finally:
        kafka_broker.stop(settings, timeout_s=20)
    assert "was not running" in _cli(["kafka", "down"], tmp_path, env).stdout


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_spark_kafka_jars_match_pyspark_and_do_not_repeat_its_jars() -> None:
    import pyspark

    from retailpipe.infra.jars import doctor_check, spark_kafka_jars
    from retailpipe.settings import load_settings

    settings = load_settings()
    names = [jar.name for jar in spark_kafka_jars(settings)]
    assert f"spark-sql-kafka-0-10_2.13-{pyspark.__version__}.jar" in names
    assert f"spark-token-provider-kafka-0-10_2.13-{pyspark.__version__}.jar" in names
    shipped = [jar.name for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar")]
    for prefix in (
        "kafka-clients-",
        "commons-pool2-",
        "lz4-java-",
        "snappy-java-",
        "slf4j-api-",
        "scala-library-",
        "hadoop-client-runtime-",
    ):
        in_pyspark = any(name.startswith(prefix) for name in shipped)
        ours = [name for name in names if name.startswith(prefix)]
        assert len(ours) == (0 if in_pyspark else 1), (prefix, ours)
    ok, detail, _ = doctor_check(settings)
    assert ok and pyspark.__version__ in detail


@pytest.mark.integration
@pytest.mark.timeout(120)  # a bound against a hang, not a speed claim
def test_doctor_check_says_whether_kafka_answers(kafka_broker_settings: Settings) -> None:
    from retailpipe.replay.client import doctor_check

    ok, detail, _ = doctor_check(kafka_broker_settings)
    assert ok and "1 broker(s)" in detail
    elsewhere = kafka_broker_settings.model_copy(
        update={
            "kafka": kafka_broker_settings.kafka.model_copy(
                update={"bootstrap_servers": "127.0.0.1:1"}
            )
        }
    )
    ok, detail, fix = doctor_check(elsewhere)
    assert not ok and "127.0.0.1:1" in detail and "kafka up" in fix
