"""The stream sink's file operations, on a local disk (os) or any Hadoop file system (HDFS).

The sink, its state and the run manifest only ever need a few operations: write bytes,
read bytes, list a folder, replace a file atomically, rename a folder, delete, and make
folders. `LocalFiles` does them with os/pathlib (with fsync); `HadoopFiles` does them
through Hadoop's FileSystem API in the Spark driver's JVM, so an `hdfs://` storage root
keeps the stream's outputs and checkpoint on HDFS. Locations are plain strings: local
paths for `LocalFiles`, URIs for `HadoopFiles`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

Location = str | Path


class Files(Protocol):
    """What the sink needs from a file system."""

    def join(self, folder: Location, *names: str) -> str: ...
    def exists(self, path: Location) -> bool: ...
    def is_dir(self, path: Location) -> bool: ...
    def names(self, folder: Location) -> list[str]: ...
    def read_bytes(self, path: Location) -> bytes: ...
    def write_bytes(self, path: Location, data: bytes) -> None: ...
    def replace(self, source: Location, target: Location) -> None: ...
    def rename_dir(self, source: Location, target: Location) -> None: ...
    def delete(self, path: Location) -> None: ...
    def mkdirs(self, path: Location) -> None: ...


class LocalFiles:
    """A local disk: writes are fsynced, replace is `os.replace` (atomic on POSIX)."""

    def join(self, folder: Location, *names: str) -> str:
        return os.path.join(folder, *names)

    def exists(self, path: Location) -> bool:
        return os.path.exists(path)

    def is_dir(self, path: Location) -> bool:
        return os.path.isdir(path)

    def names(self, folder: Location) -> list[str]:
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []

    def read_bytes(self, path: Location) -> bytes:
        return Path(path).read_bytes()

    def write_bytes(self, path: Location, data: bytes) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def replace(self, source: Location, target: Location) -> None:
        os.replace(source, target)

    def rename_dir(self, source: Location, target: Location) -> None:
        _fsync_dir(source)
        os.rename(source, target)
        _fsync_dir(os.path.dirname(os.path.abspath(target)))

    def delete(self, path: Location) -> None:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)

    def mkdirs(self, path: Location) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)


def _fsync_dir(path: Location) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HadoopFiles:
    """Any Hadoop file system (hdfs://...) through the Spark driver's JVM.

    `replace` uses `FileContext.rename(src, dst, OVERWRITE)`, one atomic NameNode operation
    on HDFS (plain `FileSystem.rename` refuses an existing target). Should a file system
    not support it, `replace` falls back to delete-then-rename: for that instant the file
    is missing, so a reader listing the folder could miss one day's windows (never see
    half a file or a window twice). Spark/Hadoop readers of the HDFS copy are the only
    readers; the dashboard reads a local serving copy.
    """

    def __init__(self, spark: Any) -> None:
        self._jvm = spark._jvm
        self._gateway = spark.sparkContext._gateway
        self._conf = spark._jsc.hadoopConfiguration()

    def _path(self, location: Location) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(str(location))

    def _fs(self, path: Any) -> Any:
        return path.getFileSystem(self._conf)

    def join(self, folder: Location, *names: str) -> str:
        return "/".join([str(folder).rstrip("/"), *names])

    def exists(self, path: Location) -> bool:
        jpath = self._path(path)
        return bool(self._fs(jpath).exists(jpath))

    def is_dir(self, path: Location) -> bool:
        jpath = self._path(path)
        fs = self._fs(jpath)
        return bool(fs.exists(jpath) and fs.getFileStatus(jpath).isDirectory())

    def names(self, folder: Location) -> list[str]:
        jpath = self._path(folder)
        fs = self._fs(jpath)
        if not fs.exists(jpath):
            return []
        return sorted(str(status.getPath().getName()) for status in fs.listStatus(jpath))

    def read_bytes(self, path: Location) -> bytes:
        jpath = self._path(path)
        stream = self._fs(jpath).open(jpath)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write_bytes(self, path: Location, data: bytes) -> None:
        jpath = self._path(path)
        out = self._fs(jpath).create(jpath, True)  # creates missing parent folders
        try:
            out.write(bytearray(data))
            out.hsync()
        finally:
            out.close()

    def replace(self, source: Location, target: Location) -> None:
        src, dst = self._path(source), self._path(target)
        try:
            rename = getattr(self._jvm.org.apache.hadoop.fs, "Options$Rename")
            options = self._gateway.new_array(rename, 1)
            options[0] = rename.OVERWRITE
            context = self._jvm.org.apache.hadoop.fs.FileContext.getFileContext(
                dst.toUri(), self._conf
            )
            context.rename(src, dst, options)
            return
        except Exception as exc:  # py4j wraps the Java exception
            if "UnsupportedOperationException" not in str(exc):
                raise
        fs = self._fs(dst)
        fs.delete(dst, False)
        self._rename(fs, src, dst)

    def rename_dir(self, source: Location, target: Location) -> None:
        src, dst = self._path(source), self._path(target)
        self._rename(self._fs(dst), src, dst)

    @staticmethod
    def _rename(fs: Any, src: Any, dst: Any) -> None:
        if not fs.rename(src, dst):
            raise OSError(f"Hadoop could not rename {src.toString()} to {dst.toString()}")

    def delete(self, path: Location) -> None:
        jpath = self._path(path)
        self._fs(jpath).delete(jpath, True)

    def mkdirs(self, path: Location) -> None:
        jpath = self._path(path)
        self._fs(jpath).mkdirs(jpath)


LOCAL = LocalFiles()


def visible(name: str) -> bool:
    """Whether readers (pyarrow, Spark, DuckDB) see a file or folder of this name."""
    return not name.startswith((".", "_"))


# The names `hidden_temp` gives, which a killed write leaves behind.
HIDDEN_TEMP = re.compile(r"^\..+\.tmp-\d+$")


def hidden_temp(files: Files, path: Location) -> str:
    """`.<name>.tmp-<pid>` next to `path`: skipped by pyarrow, Spark and `*.parquet` globs."""
    folder, _, name = str(path).rstrip("/").rpartition("/")
    temp = f".{name}.tmp-{os.getpid()}"
    return files.join(folder, temp) if folder else temp


def atomic_write(files: Files, path: Location, data: bytes) -> None:
    """Write `data` to `path` through a hidden temp file and one atomic replace."""
    tmp = hidden_temp(files, path)
    files.write_bytes(tmp, data)
    files.replace(tmp, path)


def table_bytes(table: pa.Table) -> bytes:
    """`table` as the bytes of one Parquet file."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def read_table(files: Files, path: Location, schema: pa.Schema | None = None) -> pa.Table:
    return pq.read_table(pa.BufferReader(files.read_bytes(path)), schema=schema)
