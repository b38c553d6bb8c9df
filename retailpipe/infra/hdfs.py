"""The development HDFS (Apache Hadoop's NameNode + DataNode from Maven Central) and HDFS checks.

One JVM runs both (Hadoop's MiniDFSCluster runner); it keeps its files under
`<runtime_dir>/hdfs/`: `data/`, `conf/`, `details.json` (written once it serves),
`hdfs.log` and `hdfs.pid`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from retailpipe.errors import ServiceError
from retailpipe.infra.jars import hadoop_jars
from retailpipe.infra.java import java_executable, require_java
from retailpipe.infra.ports import LOOPBACK, answers
from retailpipe.infra.service import STOP_TIMEOUT_S, JvmService, Port
from retailpipe.settings import Settings

log = logging.getLogger(__name__)

# Hadoop's own runner: one JVM with a real NameNode and DataNode(s) (MiniDFSCluster).
RUNNER = "org.apache.hadoop.test.MiniDFSClusterManager"
FS_SHELL = "org.apache.hadoop.fs.FsShell"
DETAILS = "details.json"


def service(settings: Settings) -> JvmService:
    """The development HDFS as a JvmService: files under `<runtime_dir>/hdfs`, two ports."""
    hdfs = settings.hdfs
    root = Path(settings.runtime_dir).expanduser().resolve() / "hdfs"
    return JvmService(
        name="HDFS",
        command="hdfs",
        root=root,
        main_class=RUNNER,
        address=local_uri(settings),
        ports=(
            Port(hdfs.namenode_port, "hdfs.namenode_port", "--port"),
            Port(hdfs.http_port, "hdfs.http_port", "--http-port"),
        ),
        # The runner writes its details once the cluster is up.
        ready=lambda: (root / DETAILS).exists() and answers(LOOPBACK, hdfs.namenode_port),
        more_time="hdfs.start_timeout_s",
    )


def local_uri(settings: Settings) -> str:
    """The NameNode URI of the development HDFS."""
    return f"hdfs://{LOOPBACK}:{settings.hdfs.namenode_port}"


@dataclass(frozen=True)
class HdfsStatus:
    """What `retailpipe hdfs status` reports."""

    running: bool
    uri: str
    web_url: str
    pid: int | None = None
    live_datanodes: int | None = None
    capacity_remaining: int | None = None
    runtime_dir: Path | None = None


def status(settings: Settings) -> HdfsStatus:
    """The state of the development HDFS (a NameNode that answers counts as running)."""
    cluster = service(settings)
    answering = answers(LOOPBACK, settings.hdfs.namenode_port)
    live, remaining = _jmx(settings.hdfs.http_port) if answering else (None, None)
    return HdfsStatus(
        running=answering,
        uri=local_uri(settings),
        web_url=f"http://{LOOPBACK}:{settings.hdfs.http_port}",
        pid=cluster.pid(),
        live_datanodes=live,
        capacity_remaining=remaining,
        runtime_dir=cluster.root,
    )


def start(settings: Settings) -> HdfsStatus:
    """Start the development HDFS in the background and wait until it serves requests."""
    cluster = service(settings)
    cluster.start(lambda: _prepare(settings, cluster), settings.hdfs.start_timeout_s)
    return status(settings)


def stop(settings: Settings, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop the development HDFS; True when one was running."""
    return service(settings).stop(timeout_s)


def _prepare(settings: Settings, cluster: JvmService) -> list[str]:
    """Write the client configuration; the runner's command line (formatting on first use)."""
    jars = hadoop_jars(settings)
    cluster.data.mkdir(parents=True, exist_ok=True)
    conf = cluster.root / "conf"
    write_client_conf(conf, local_uri(settings))
    (cluster.root / DETAILS).unlink(missing_ok=True)
    formatted = any(cluster.data.glob("name-*/current/VERSION"))
    hdfs = settings.hdfs
    return [
        str(java_executable()),
        f"-Xmx{hdfs.heap}",
        "-Djava.net.preferIPv4Stack=true",
        "-cp",
        classpath(conf, jars),
        RUNNER,
        "-nnport",
        str(hdfs.namenode_port),
        "-httpport",
        str(hdfs.http_port),
        "-datanodes",
        str(hdfs.datanodes),
        "-writeConfig",
        str(cluster.root / "cluster-site.xml"),
        "-writeDetails",
        str(cluster.root / DETAILS),
        "-D",
        f"hdfs.minidfs.basedir={cluster.data}",
        "-D",
        f"dfs.replication={min(hdfs.datanodes, 3)}",
        "-D",
        "dfs.permissions.enabled=false",
        *(["-format"] if not formatted else []),
    ]


def classpath(conf: Path, jars: list[Path]) -> str:
    # The conf folder comes first so Hadoop finds core-site.xml and log4j.properties there.
    return os.pathsep.join([str(conf), *map(str, jars)])


def write_client_conf(conf: Path, default_fs: str) -> None:
    """core-site.xml and log4j.properties for the HDFS JVMs and Hadoop's FsShell."""
    conf.mkdir(parents=True, exist_ok=True)
    props = {
        "fs.defaultFS": default_fs,
        "dfs.replication": "1",
        "dfs.client.block.write.replace-datanode-on-failure.enable": "false",
    }
    body = "\n".join(
        f"  <property><name>{key}</name><value>{value}</value></property>"
        for key, value in props.items()
    )
    # HDFS clients read dfs.* keys from hdfs-site.xml; both files carry the same keys.
    for name in ("core-site.xml", "hdfs-site.xml"):
        (conf / name).write_text(
            f'<?xml version="1.0"?>\n<configuration>\n{body}\n</configuration>\n'
        )
    (conf / "log4j.properties").write_text(
        "log4j.rootLogger=WARN, console\n"
        "log4j.appender.console=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.console.target=System.err\n"
        "log4j.appender.console.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n\n"
        # MiniDFSClusterManager logs its addresses at INFO; keep those.
        "log4j.logger.org.apache.hadoop.test.MiniDFSClusterManager=INFO\n"
    )


def fs_shell(settings: Settings, *args: str, uri: str | None = None) -> str:
    """Run Hadoop's `hdfs dfs` (FsShell) against `uri` (default: the storage root's NameNode)."""
    require_java()
    jars = hadoop_jars(settings)
    conf = service(settings).root / "conf"
    target = uri or namenode_of(settings.storage.root) or local_uri(settings)
    write_client_conf(conf, target)
    cmd = [
        str(java_executable()),
        "-Xmx256m",
        "-cp",
        classpath(conf, jars),
        FS_SHELL,
        "-fs",
        target,
        *args,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = " ".join(
            line for line in result.stderr.splitlines() if line and not line.startswith("SLF4J")
        )
        raise ServiceError(
            f"hdfs dfs {' '.join(args)} failed: {detail[:300]}",
            f"check that HDFS answers at {target} (`retailpipe hdfs status`)",
        )
    return result.stdout


def put(settings: Settings, source: Path, dest_uri: str) -> list[str]:
    """Copy a local file, or every entry of a local folder, into the HDFS folder `dest_uri`."""
    if not source.exists():
        raise ServiceError(f"{source} does not exist", "pass an existing file or folder")
    entries = sorted(source.iterdir()) if source.is_dir() else [source]
    if not entries:
        raise ServiceError(f"{source} is empty", "generate data first: retailpipe generate")
    uri = namenode_of(dest_uri)
    fs_shell(settings, "-mkdir", "-p", dest_uri, uri=uri)
    fs_shell(settings, "-put", "-f", *map(str, entries), dest_uri, uri=uri)
    return [entry.name for entry in entries]


def namenode_of(uri: str) -> str | None:
    """`hdfs://host:port` of an hdfs:// URI, None for anything else."""
    parsed = urlparse(uri)
    return f"hdfs://{parsed.netloc}" if parsed.scheme == "hdfs" and parsed.netloc else None


def doctor_check(settings: Settings) -> tuple[bool, str, str]:
    """`retailpipe doctor`: does the configured HDFS (or the running dev HDFS) answer?"""
    namenode = namenode_of(settings.storage.root)
    if namenode is None:
        if status(settings).pid is not None:
            return True, f"development HDFS running at {local_uri(settings)}", ""
        return True, "not used (storage root is local)", ""
    parsed = urlparse(namenode)
    host, port = parsed.hostname or LOOPBACK, parsed.port or 8020
    if answers(host, port):
        return True, f"NameNode answers at {namenode}", ""
    fix = (
        "start it with `retailpipe hdfs up`"
        if host in (LOOPBACK, "localhost")
        else f"check that the NameNode {host}:{port} is up and reachable"
    )
    return False, f"no NameNode answers at {namenode}", fix


def _jmx(http_port: int) -> tuple[int | None, int | None]:
    url = f"http://{LOOPBACK}:{http_port}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            bean = json.load(response)["beans"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None, None
    return bean.get("NumLiveDataNodes"), bean.get("CapacityRemaining")
