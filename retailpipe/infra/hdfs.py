"""The development HDFS (Apache Hadoop's NameNode + DataNode from Maven Central) and HDFS checks."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from retailpipe.errors import ServiceError
from retailpipe.infra.java import java_executable, require_java
from retailpipe.infra.process import alive, pid_from_file
from retailpipe.settings import Settings

log = logging.getLogger(__name__)

CACHE_ENV = "RETAILPIPE_CACHE_DIR"
# Hadoop's own runner: one JVM with a real NameNode and DataNode(s) (MiniDFSCluster).
RUNNER = "org.apache.hadoop.test.MiniDFSClusterManager"
FS_SHELL = "org.apache.hadoop.fs.FsShell"
HOST = "127.0.0.1"


def cache_dir() -> Path:
    """Where resolved jars live: $RETAILPIPE_CACHE_DIR, else ~/.cache/retailpipe."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "retailpipe"


def hadoop_jars(settings: Settings) -> Path:
    """The folder of Hadoop jars for `hdfs.version`, resolved with Maven on first use."""
    version = settings.hdfs.version
    target = cache_dir() / f"hadoop-{version}"
    if (target / ".complete").exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(
            f"Maven is needed once to fetch Apache Hadoop {version} and is not installed",
            "install Maven (e.g. `apt-get install maven`) and rerun; the jars are cached after",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".hadoop-{version}-", dir=target.parent))
    pom = resources.files("retailpipe.infra").joinpath("hdfs-pom.xml")
    with resources.as_file(pom) as pom_path:
        base = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom_path),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            f"-Dhadoop.version={version}",
        ]
        log.info("resolving Apache Hadoop %s with Maven into %s", version, target)
        # Offline first: a warm ~/.m2 needs no network at all.
        done = _run_quiet([*base[:1], "-o", *base[1:]]) or _run_quiet(base)
    if not done or not any(staging.glob("hadoop-client-minicluster-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        raise ServiceError(
            f"Maven could not resolve Apache Hadoop {version} (hadoop-client-minicluster)",
            "check network access to Maven Central (or a mirror in ~/.m2/settings.xml) and "
            "that hdfs.version names a published Hadoop release",
        )
    (staging / ".complete").write_text(version + "\n")
    try:
        staging.rename(target)
    except OSError:  # another process finished first; its copy is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _run_quiet(cmd: list[str]) -> bool:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        log.debug("%s failed: %s", " ".join(cmd[:3]), result.stdout[-2000:])
    return result.returncode == 0


@dataclass(frozen=True)
class Runtime:
    """The files of the development HDFS under `runtime_dir`/hdfs."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def pid_file(self) -> Path:
        return self.root / "hdfs.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "hdfs.log"

    @property
    def details(self) -> Path:
        return self.root / "details.json"


def runtime(settings: Settings) -> Runtime:
    return Runtime(Path(settings.runtime_dir).expanduser().resolve() / "hdfs")


def local_uri(settings: Settings) -> str:
    """The NameNode URI of the development HDFS."""
    return f"hdfs://{HOST}:{settings.hdfs.namenode_port}"


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
    rt = runtime(settings)
    pid = _our_pid(rt)
    answering = answers(HOST, settings.hdfs.namenode_port)
    live, remaining = _jmx(settings.hdfs.http_port) if answering else (None, None)
    return HdfsStatus(
        running=answering,
        uri=local_uri(settings),
        web_url=f"http://{HOST}:{settings.hdfs.http_port}",
        pid=pid,
        live_datanodes=live,
        capacity_remaining=remaining,
        runtime_dir=rt.root,
    )


def start(settings: Settings) -> HdfsStatus:
    """Start the development HDFS in the background and wait until it serves requests."""
    current = status(settings)
    if current.running and current.pid is not None:
        return current
    hdfs = settings.hdfs
    ports = (("hdfs.namenode_port", hdfs.namenode_port), ("hdfs.http_port", hdfs.http_port))
    for name, port in ports:
        if not port_free(HOST, port):
            raise ServiceError(
                f"port {port} on {HOST} is already in use by another process",
                f"stop that process or choose another port ({name}, env "
                f"RETAILPIPE_{name.upper().replace('.', '__')})",
            )
    require_java()
    jars = hadoop_jars(settings)
    rt = runtime(settings)
    rt.data.mkdir(parents=True, exist_ok=True)
    write_client_conf(rt.conf, local_uri(settings))
    rt.details.unlink(missing_ok=True)
    formatted = any(rt.data.glob("name-*/current/VERSION"))
    cmd = [
        str(java_executable()),
        f"-Xmx{hdfs.heap}",
        "-Djava.net.preferIPv4Stack=true",
        "-cp",
        classpath(rt, jars),
        RUNNER,
        "-nnport",
        str(hdfs.namenode_port),
        "-httpport",
        str(hdfs.http_port),
        "-datanodes",
        str(hdfs.datanodes),
        "-writeConfig",
        str(rt.root / "cluster-site.xml"),
        "-writeDetails",
        str(rt.details),
        "-D",
        f"hdfs.minidfs.basedir={rt.data}",
        "-D",
        f"dfs.replication={min(hdfs.datanodes, 3)}",
        "-D",
        "dfs.permissions.enabled=false",
        *(["-format"] if not formatted else []),
    ]
    with rt.log_file.open("ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting HDFS\n".encode())
        out.flush()
        process = subprocess.Popen(
            cmd,
            cwd=rt.root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    rt.pid_file.write_text(str(process.pid))
    log.info("HDFS starting (pid %d, log %s)", process.pid, rt.log_file)
    _wait_ready(settings, rt, process)
    return status(settings)


def _wait_ready(settings: Settings, rt: Runtime, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + settings.hdfs.start_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            rt.pid_file.unlink(missing_ok=True)
            raise _start_failure(rt, process.returncode)
        if rt.details.exists() and answers(HOST, settings.hdfs.namenode_port):
            return
        time.sleep(0.5)
    stop(settings)
    raise ServiceError(
        f"HDFS did not answer within {settings.hdfs.start_timeout_s:.0f} s (log {rt.log_file})",
        "read the log; on a busy machine raise hdfs.start_timeout_s",
    )


def _start_failure(rt: Runtime, code: int) -> ServiceError:
    tail = log_tail(rt.log_file, 40)
    if "BindException" in tail or "Address already in use" in tail:
        return ServiceError(
            "HDFS could not bind one of its ports (already in use)",
            "stop the other process or set hdfs.namenode_port / hdfs.http_port",
        )
    last = next((line for line in reversed(tail.splitlines()) if "Exception" in line), "")
    return ServiceError(
        f"HDFS exited during start-up (code {code}): {last.strip()[:200]}",
        f"read {rt.log_file}; `retailpipe hdfs down` then `up` retries, deleting "
        f"{rt.data} starts from an empty file system",
    )


def stop(settings: Settings, timeout_s: float = 30.0) -> bool:
    """Stop the development HDFS; True when one was running."""
    rt = runtime(settings)
    pid = _our_pid(rt)
    rt.pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.2)
    if alive(pid):
        log.warning("HDFS (pid %d) ignored SIGTERM; killing it", pid)
        _signal_group(pid, signal.SIGKILL)
    return True


def classpath(rt: Runtime, jars: Path) -> str:
    # The conf folder comes first so Hadoop finds core-site.xml and log4j.properties there.
    return os.pathsep.join([str(rt.conf), str(jars / "*")])


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
    rt = runtime(settings)
    target = uri or namenode_of(settings.storage.root) or local_uri(settings)
    write_client_conf(rt.conf, target)
    cmd = [
        str(java_executable()),
        "-Xmx256m",
        "-cp",
        classpath(rt, jars),
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
    host, port = parsed.hostname or HOST, parsed.port or 8020
    if answers(host, port):
        return True, f"NameNode answers at {namenode}", ""
    fix = (
        "start it with `retailpipe hdfs up`"
        if host in (HOST, "localhost")
        else f"check that the NameNode {host}:{port} is up and reachable"
    )
    return False, f"no NameNode answers at {namenode}", fix


def answers(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Like Java's server sockets: a port in TIME_WAIT after a restart is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def log_tail(path: Path, lines: int) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _jmx(http_port: int) -> tuple[int | None, int | None]:
    url = f"http://{HOST}:{http_port}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            bean = json.load(response)["beans"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None, None
    return bean.get("NumLiveDataNodes"), bean.get("CapacityRemaining")


def _our_pid(rt: Runtime) -> int | None:
    """The pid in the pid file if that process is alive and is our HDFS runner."""
    return pid_from_file(rt.pid_file, RUNNER)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
