"""The Docker Compose stacks: valid for a real Compose parser, and in step with configs/."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import typer.main
import yaml

from retailpipe.cli.app import app
from retailpipe.settings import Settings, load_settings
from tests.compose.stack import compose_command as stack_compose_command

REPO = Path(__file__).resolve().parents[2]
STACKS = ("batch", "stream")
CONFIG = REPO / "configs" / "compose.toml"


def compose_command() -> list[str]:
    """`docker compose` (v2 plugin) when present, else Debian's `docker-compose`."""
    try:
        return stack_compose_command()
    except LookupError as missing:
        # A skip for a user's `make test` without one; with CI set, tests/conftest.py fails it.
        pytest.skip(f"no Compose parser found; {missing}")


def render(stack: str) -> dict[str, Any]:
    """The stack as the Compose parser resolves it (anchors merged, paths absolute)."""
    result = subprocess.run(
        [*compose_command(), "-f", str(REPO / "compose" / f"{stack}.yml"), "config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(CONFIG)


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, render(request.param)


def _retailpipe_services(rendered: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in rendered["services"].items()
        if svc.get("image") == "retailpipe:latest" and svc.get("entrypoint") is None
    }


def _volumes(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Mounts in long form; docker-compose v1 renders them as `source:target[:mode]`."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append(volume)
            continue
        source, target, *mode = str(volume).split(":")
        kind = "bind" if source.startswith(("/", ".")) else "volume"
        mounts.append(
            {"type": kind, "source": source, "target": target, "read_only": mode == ["ro"]}
        )
    return mounts


def _mounts(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {volume["target"]: volume for volume in _volumes(service)}


def _aliases(service: dict[str, Any]) -> set[str]:
    names = {service.get("hostname")}
    for network in (service.get("networks") or {}).values():
        names.update((network or {}).get("aliases", []))
    return {name for name in names if name}


def _service_named(rendered: dict[str, Any], host: str) -> dict[str, Any]:
    matches = [svc for svc in rendered["services"].values() if host in _aliases(svc)]
    assert len(matches) == 1, f"expected one service answering to {host!r}"
    return matches[0]


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
        else:
            ip, published, target = str(port).split("/")[0].rsplit(":", 2)
            ports.append((ip, int(published), int(target)))
    return ports


def test_a_real_compose_parser_rejects_a_broken_file(tmp_path: Path) -> None:
    text = (REPO / "compose" / "batch.yml").read_text()
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("condition: service_healthy", "condition: service_happy", 1))
    result = subprocess.run(
        [*compose_command(), "-f", str(broken), "config", "-q"], capture_output=True, check=False
    )
    assert result.returncode != 0


def test_each_stack_runs_its_stages(stack: tuple[str, dict[str, Any]]) -> None:
    name, rendered = stack
    commands = {" ".join(svc["command"][:2]) for svc in _retailpipe_services(rendered).values()}
    expected = {
        "batch": {"generate --out", "batch", "serve batch"},
        "stream": {"generate --out", "replay --root", "stream", "serve stream"},
    }[name]
    assert expected <= commands
    assert {"namenode", "datanode", "spark-master", "spark-worker"} <= set(rendered["services"])
    if name == "stream":
        assert "kafka" in rendered["services"]


def test_compose_commands_are_valid_retailpipe_invocations(
    stack: tuple[str, dict[str, Any]],
) -> None:
    group = typer.main.get_command(app)
    for svc in _retailpipe_services(stack[1]).values():
        ctx = group.make_context("retailpipe", list(svc["command"]))
        command: Any = group
        # Walk down the sub-commands; click raises UsageError on an unknown command or option.
        while hasattr(command, "resolve_command"):
            rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
            sub_name, command, rest = command.resolve_command(ctx, rest)
            ctx = command.make_context(sub_name, list(rest), parent=ctx)
        assert ctx.command.name in {"generate", "batch", "replay", "stream"} or (
            ctx.parent is not None and ctx.parent.command.name == "serve"
        )


def test_hdfs_matches_the_storage_root(
    stack: tuple[str, dict[str, Any]], settings: Settings
) -> None:
    root = urlparse(settings.storage.root)
    assert root.scheme == "hdfs"
    namenode = _service_named(stack[1], root.hostname or "")
    env = namenode["environment"]
    assert env["CORE-SITE.XML_fs.defaultFS"] == f"hdfs://{root.netloc}"
    assert env["HDFS-SITE.XML_dfs.namenode.rpc-address"] == root.netloc
    assert env["HDFS-SITE.XML_dfs.namenode.name.dir"].startswith("file://")
    name_dir = urlparse(env["HDFS-SITE.XML_dfs.namenode.name.dir"]).path
    assert env["ENSURE_NAMENODE_DIR"] == name_dir
    # The name folder sits below a named volume, so HDFS survives a restart.
    assert any(name_dir.startswith(target + "/") for target in _mounts(namenode))
    upload = stack[1]["services"].get("hdfs-upload")
    if upload is not None:
        script = " ".join(upload["command"])
        assert f"-fs hdfs://{root.netloc}" in script
        assert f"{root.path}/raw" in script


def test_spark_matches_the_master_url(
    stack: tuple[str, dict[str, Any]], settings: Settings
) -> None:
    master = urlparse(settings.spark.master)
    assert master.scheme == "spark"
    service = _service_named(stack[1], master.hostname or "")
    cmd = service["command"]
    assert cmd[0] == "org.apache.spark.deploy.master.Master"
    assert cmd[cmd.index("--host") + 1] == master.hostname
    assert int(cmd[cmd.index("--port") + 1]) == master.port
    worker = stack[1]["services"]["spark-worker"]
    assert worker["command"][0] == "org.apache.spark.deploy.worker.Worker"
    assert worker["command"][-1] == settings.spark.master
    assert worker["depends_on"]["spark-master"]["condition"] == "service_healthy"


def test_kafka_matches_the_bootstrap_servers(settings: Settings) -> None:
    rendered = render("stream")
    host, port = settings.kafka.bootstrap_servers.split(":")
    kafka = _service_named(rendered, host)
    env = kafka["environment"]
    assert f"PLAINTEXT://{host}:{port}" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert f"PLAINTEXT://:{port}" in env["KAFKA_LISTENERS"].split(",")
    assert "broker" in env["KAFKA_PROCESS_ROLES"] and "controller" in env["KAFKA_PROCESS_ROLES"]
    # The Compose broker and the local development broker are the same Kafka release: the
    # image is built from the jars of kafka.local.version (docker/stage_jars.py).
    assert kafka["image"] == f"retailpipe-kafka:{settings.kafka.local.version}"
    assert kafka["build"]["target"] == "kafka"
    assert settings.kafka.topic == "retail.transactions"


def test_retailpipe_services_share_the_config_and_volumes(
    stack: tuple[str, dict[str, Any]], settings: Settings
) -> None:
    for name, svc in _retailpipe_services(stack[1]).items():
        config_path = svc["environment"]["RETAILPIPE_CONFIG"]
        mount = _mounts(svc)[config_path]
        assert Path(mount["source"]).resolve() == CONFIG.resolve(), name
        assert mount.get("read_only") is True, name
        targets = _mounts(svc)
        assert settings.storage.serving_root in targets, name
        serving = targets[settings.storage.serving_root]
        assert serving["type"] == "volume", name
        if name.startswith("serve-"):
            assert serving.get("read_only") is True, name
            assert settings.storage.serving_root != "/data"
        else:
            assert any(settings.runtime_dir.startswith(target + "/") for target in targets), (
                f"{name}: runtime_dir {settings.runtime_dir} is on no volume"
            )


def test_dashboards_listen_on_the_configured_port(
    stack: tuple[str, dict[str, Any]], settings: Settings
) -> None:
    assert settings.serve.host == "0.0.0.0"
    serves = {n: s for n, s in stack[1]["services"].items() if n.startswith("serve-")}
    assert serves
    for name, svc in serves.items():
        ports = _published(svc)
        assert [target for _, _, target in ports] == [settings.serve.port], name
        assert all(ip == "127.0.0.1" for ip, _, _ in ports), f"{name} must publish on loopback"
        assert str(settings.serve.port) in " ".join(svc["healthcheck"]["test"]), name


def test_volumes_and_health_checks(stack: tuple[str, dict[str, Any]]) -> None:
    rendered = stack[1]
    used = {
        volume["source"]
        for svc in rendered["services"].values()
        for volume in _volumes(svc)
        if volume["type"] == "volume"
    }
    assert used == set(rendered["volumes"]), "every named volume is declared and used"
    one_shot = {"generate", "hdfs-upload", "batch", "replay", "stream"}
    for name, svc in rendered["services"].items():
        if name not in one_shot:
            assert "healthcheck" in svc, f"{name} has no health check"
        for dep, condition in svc.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in rendered["services"][dep], f"{name} waits on {dep}"
    host_ports = [
        published for svc in rendered["services"].values() for _, published, _ in _published(svc)
    ]
    assert len(host_ports) == len(set(host_ports)), "a host port is published twice"


def test_dockerfile_builds_what_the_stacks_run(settings: Settings) -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, flags=re.M):
        for item in source.split():
            assert (REPO / item).exists(), f"Dockerfile copies missing {item}"
            assert item not in ignored, f".dockerignore hides {item}"
            assert item.split("/")[0] not in ignored, f".dockerignore hides {item}"
    python = re.search(r"python:(\d+\.\d+)", dockerfile)
    assert python is not None
    assert f"python{python.group(1)}/site-packages/pyspark" in dockerfile
    staging = (REPO / "docker" / "stage_jars.py").read_text()
    assert "spark_kafka_jars" in staging, "the Kafka connector must be fetched at build time"
    assert "kafka_jars" in staging and "hadoop_jars" in staging
    assert 'ENTRYPOINT ["tini", "--", "retailpipe"]' in dockerfile
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, flags=re.M))
    # The last stage is what a plain `docker build .` gives: the retailpipe image.
    assert re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, flags=re.M)[-1] == "retailpipe"
    tags = {
        "retailpipe-kafka": settings.kafka.local.version,
        "retailpipe-hadoop": settings.hdfs.version,
    }
    for stack_name in STACKS:
        for name, svc in render(stack_name)["services"].items():
            assert "build" in svc, f"{name}: every image of the stacks is built here"
            assert Path(svc["build"]["context"]).resolve() == REPO
            assert svc["build"]["dockerfile"] == "Dockerfile"
            assert svc["build"]["target"] in stages, name
            repository, tag = svc["image"].split(":")
            assert tags.get(repository, "latest") == tag, f"{name}: {svc['image']}"


def test_hdfs_dev_config_points_at_the_dev_cluster() -> None:
    dev = load_settings(REPO / "configs" / "hdfs.toml")
    root = urlparse(dev.storage.root)
    assert root.scheme == "hdfs"
    assert (root.hostname, root.port) == ("127.0.0.1", dev.hdfs.namenode_port)
    assert dev.storage.serving_root is not None
    assert urlparse(dev.storage.serving_root).scheme == ""
