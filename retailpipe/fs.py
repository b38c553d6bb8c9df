"""The one file-system layer: a local disk (os) or any Hadoop file system (HDFS), one protocol.

Every command needs the same few operations on its storage root: list, read, write,
replace a file atomically, rename, delete, make folders. `LocalFiles` does them with
os/pathlib (with fsync); `HadoopFiles` does them through Hadoop's FileSystem API in the
Spark driver's JVM, so one code path serves `file://` and `hdfs://` roots. Locations are
plain strings: local paths for `LocalFiles`, URIs for `HadoopFiles`.

`atomic_write` is the only way a file is replaced: a hidden temp file next to the target,
then one atomic rename, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import glob as globbing
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from retailpipe.errors import InputError, java_message, known_cause

Location = str | Path


@dataclass(frozen=True)
class FileInfo:
    """One entry of a listing."""

    uri: str
    name: str
    size: int
    is_dir: bool


class Files(Protocol):
    """What the commands need from a file system."""

    def join(self, folder: Location, *names: str) -> str: ...
    def exists(self, path: Location) -> bool: ...
    def is_dir(self, path: Location) -> bool: ...
    def names(self, folder: Location) -> list[str]: ...
    def entries(self, folder: Location) -> list[FileInfo]: ...
    def glob(self, pattern: Location) -> list[FileInfo]: ...
    def read_bytes(self, path: Location) -> bytes: ...
    def first_line(self, path: Location) -> str | None: ...
    def write_bytes(self, path: Location, data: bytes) -> None: ...
    def replace(self, source: Location, target: Location) -> None: ...
    def rename(self, source: Location, target: Location) -> None: ...
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

    def entries(self, folder: Location) -> list[FileInfo]:
        return [_local_info(os.path.join(folder, name)) for name in self.names(folder)]

    def glob(self, pattern: Location) -> list[FileInfo]:
        return [_local_info(path) for path in sorted(globbing.glob(str(pattern)))]

    def read_bytes(self, path: Location) -> bytes:
        return Path(path).read_bytes()

    def first_line(self, path: Location) -> str | None:
        with open(path, encoding="utf-8", newline="") as handle:
            line = handle.readline()
        return line.rstrip("\r\n") if line else None

    def write_bytes(self, path: Location, data: bytes) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def replace(self, source: Location, target: Location) -> None:
        os.replace(source, target)

    def rename(self, source: Location, target: Location) -> None:
        parent = os.path.dirname(os.path.abspath(target))
        os.makedirs(parent, exist_ok=True)
        if os.path.isdir(source):
            _fsync_dir(source)
        os.rename(source, target)
        _fsync_dir(parent)

    def delete(self, path: Location) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)

    def mkdirs(self, path: Location) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)


def _local_info(path: str) -> FileInfo:
    is_dir = os.path.isdir(path)
    return FileInfo(
        uri=path,
        name=os.path.basename(path.rstrip("/")),
        size=0 if is_dir else os.path.getsize(path),
        is_dir=is_dir,
    )


def _fsync_dir(path: Location) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HadoopFiles:
    """Any Hadoop file system (hdfs://, file://) through the Spark driver's JVM.

    `replace` uses `FileContext.rename(src, dst, OVERWRITE)`, one atomic NameNode operation
    on HDFS (plain `FileSystem.rename` refuses an existing target). Should a file system
    not support it, `replace` falls back to delete-then-rename: for that instant the file
    is missing, so a reader listing the folder could miss it (never see half a file).
    """

    def __init__(self, spark: Any) -> None:
        self._jvm = spark._jvm
        self._gateway = spark.sparkContext._gateway
        self._conf = spark._jsc.hadoopConfiguration()

    def _resolve(self, location: Location) -> tuple[Any, Any]:
        path = self._jvm.org.apache.hadoop.fs.Path(str(location))
        fs = path.getFileSystem(self._conf)
        if fs.getScheme() == "file":  # the raw local disk: no `.name.crc` file beside each
            fs = fs.getRawFileSystem()
        return fs, path

    def join(self, folder: Location, *names: str) -> str:
        return "/".join([str(folder).rstrip("/"), *names])

    def exists(self, path: Location) -> bool:
        fs, jpath = self._resolve(path)
        return bool(fs.exists(jpath))

    def is_dir(self, path: Location) -> bool:
        fs, jpath = self._resolve(path)
        return bool(fs.exists(jpath) and fs.getFileStatus(jpath).isDirectory())

    def names(self, folder: Location) -> list[str]:
        return [info.name for info in self.entries(folder)]

    def entries(self, folder: Location) -> list[FileInfo]:
        fs, jpath = self._resolve(folder)
        if not fs.exists(jpath):
            return []
        return sorted((_hadoop_info(s) for s in fs.listStatus(jpath)), key=lambda i: i.name)

    def glob(self, pattern: Location) -> list[FileInfo]:
        """Files and folders matching a glob (or one path), sorted by URI."""
        fs, jpath = self._resolve(pattern)
        try:
            statuses = fs.globStatus(jpath)
        except Exception as exc:  # py4j wraps the Java IOException
            raise known_cause(exc) or InputError(
                f"cannot list {pattern}: {java_message(exc)}",
                "check that storage.root (or --input) exists and is readable",
            ) from exc
        return sorted((_hadoop_info(s) for s in statuses or []), key=lambda i: i.uri)

    def read_bytes(self, path: Location) -> bytes:
        fs, jpath = self._resolve(path)
        stream = fs.open(jpath)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def first_line(self, path: Location) -> str | None:
        """The first line of a text file (UTF-8), or None for an empty file."""
        fs, jpath = self._resolve(path)
        stream = fs.open(jpath)
        try:
            java_io = self._jvm.java.io
            reader = java_io.BufferedReader(java_io.InputStreamReader(stream, "UTF-8"))
            line = reader.readLine()
        finally:
            stream.close()
        return None if line is None else str(line)

    def write_bytes(self, path: Location, data: bytes) -> None:
        fs, jpath = self._resolve(path)
        out = fs.create(jpath, True)  # creates missing parent folders
        try:
            out.write(bytearray(data))
            out.hsync()
        finally:
            out.close()

    def replace(self, source: Location, target: Location) -> None:
        (fs, src), (_, dst) = self._resolve(source), self._resolve(target)
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
        fs.delete(dst, False)
        _hadoop_rename(fs, src, dst)

    def rename(self, source: Location, target: Location) -> None:
        """Rename a file or folder (atomic on HDFS and local); makes the target's parent."""
        (fs, src), (_, dst) = self._resolve(source), self._resolve(target)
        fs.mkdirs(dst.getParent())
        _hadoop_rename(fs, src, dst)

    def copy_to_local(self, source: Location, target: Path) -> None:
        """Copy a file or folder tree to a local path (Hadoop's own copy, in the JVM)."""
        fs, src = self._resolve(source)
        dst = self._jvm.org.apache.hadoop.fs.Path(target.resolve().as_uri())
        fs.copyToLocalFile(False, src, dst, True)  # True: no .crc checksum files

    def delete(self, path: Location) -> None:
        fs, jpath = self._resolve(path)
        if fs.exists(jpath):
            fs.delete(jpath, True)

    def mkdirs(self, path: Location) -> None:
        fs, jpath = self._resolve(path)
        fs.mkdirs(jpath)


def _hadoop_rename(fs: Any, src: Any, dst: Any) -> None:
    if not fs.rename(src, dst):
        raise OSError(f"Hadoop could not rename {src.toString()} to {dst.toString()}")


def _hadoop_info(status: Any) -> FileInfo:
    path = status.getPath()
    return FileInfo(
        uri=str(path.toString()),
        name=str(path.getName()),
        size=int(status.getLen()),
        is_dir=bool(status.isDirectory()),
    )


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
    """Write `data` to `path` through a hidden temp file and one atomic replace; a failed
    write leaves no temp file behind."""
    tmp = hidden_temp(files, path)
    try:
        files.write_bytes(tmp, data)
        files.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(Exception):  # the original error is the one to report
            files.delete(tmp)
        raise


@contextmanager
def replacing(path: Location) -> Iterator[BinaryIO]:
    """A local file written through a hidden temp file next to it and put in place by one
    atomic rename when the block ends; on an error the temp file is removed. For files too
    large to hold in memory (no fsync: a rerun rewrites them)."""
    tmp = hidden_temp(LOCAL, path)
    try:
        with open(tmp, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def table_bytes(table: pa.Table) -> bytes:
    """`table` as the bytes of one Parquet file (snappy)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().to_pybytes()


def read_table(files: Files, path: Location, schema: pa.Schema | None = None) -> pa.Table:
    return pq.read_table(pa.BufferReader(files.read_bytes(path)), schema=schema)
