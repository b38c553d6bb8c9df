#!/usr/bin/env python3
"""`hdfs` of the hadoop image: Hadoop's daemons and shells from the jars in /opt/hadoop/jars.

    hdfs namenode | datanode | dfs ARGS... | dfsadmin ARGS...

Configuration comes from the environment, as in Apache Hadoop's own image: a variable named
CORE-SITE.XML_<key> or HDFS-SITE.XML_<key> sets <key> in that file. With ENSURE_NAMENODE_DIR
set, `hdfs namenode` formats that folder the first time (when it holds no file system yet).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

HOME = Path("/opt/hadoop")
CONF = HOME / "conf"
CLASSES = {
    "namenode": "org.apache.hadoop.hdfs.server.namenode.NameNode",
    "datanode": "org.apache.hadoop.hdfs.server.datanode.DataNode",
    "dfs": "org.apache.hadoop.fs.FsShell",
    "dfsadmin": "org.apache.hadoop.hdfs.tools.DFSAdmin",
}
DAEMONS = {"namenode", "datanode"}
FILES = ("core-site.xml", "hdfs-site.xml")
LOG4J = """\
log4j.rootLogger=${hadoop.root.logger}
hadoop.root.logger=WARN,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
"""


def write_conf(environ: dict[str, str]) -> None:
    """core-site.xml and hdfs-site.xml from the FILE.XML_<key> variables."""
    CONF.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        prefix = name.upper() + "_"
        props = sorted((k[len(prefix) :], v) for k, v in environ.items() if k.startswith(prefix))
        body = "".join(
            f"  <property><name>{escape(key)}</name><value>{escape(value)}</value></property>\n"
            for key, value in props
        )
        (CONF / name).write_text(
            f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n'
        )
    (CONF / "log4j.properties").write_text(LOG4J)


def java(command: str, environ: dict[str, str]) -> list[str]:
    daemon = command in DAEMONS
    heap = environ.get("HADOOP_HEAPSIZE", "512m" if daemon else "256m")
    return [
        "java",
        f"-Xmx{heap}",
        "-Djava.net.preferIPv4Stack=true",
        f"-Dhadoop.root.logger={'INFO' if daemon else 'WARN'},console",
        "-cp",
        f"{CONF}:{HOME / 'jars' / '*'}",
        CLASSES[command],
    ]


def ensure_formatted(environ: dict[str, str]) -> None:
    folder = environ.get("ENSURE_NAMENODE_DIR")
    if folder and not (Path(folder) / "current" / "VERSION").is_file():
        print(f"formatting a new file system in {folder}", file=sys.stderr)
        cmd = [*java("namenode", environ), "-format", "-nonInteractive", "-force"]
        subprocess.run(cmd, check=True)


def main(args: list[str]) -> int:
    if not args or args[0] not in CLASSES:
        print(__doc__.strip(), file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    environ = dict(os.environ)
    write_conf(environ)
    if args[0] == "namenode":
        ensure_formatted(environ)
    command = java(args[0], environ)
    os.execvp(command[0], [*command, *args[1:]])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
