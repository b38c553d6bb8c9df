"""File operations on the storage root through Hadoop's FileSystem API (local or HDFS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retailpipe.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class FileInfo:
    uri: str
    name: str
    size: int
    is_dir: bool


class HadoopFs:
    """Listing, reading a header, renaming and deleting, the same way on file:// and hdfs://.

    Going through Spark's JVM keeps one code path for both kinds of root, so the local
    tests exercise what runs on HDFS.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._jvm: Any = spark._jvm  # type: ignore[attr-defined]
        self._conf = spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]

    def _resolve(self, uri: str) -> tuple[Any, Any]:
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self._conf), path

    def glob(self, pattern: str) -> list[FileInfo]:
        """Files and folders matching a glob (or one path), sorted by name."""
        fs, path = self._resolve(pattern)
        try:
            statuses = fs.globStatus(path)
        except Exception as exc:  # py4j wraps the Java IOException
            raise InputError(
                f"cannot list {pattern}: {_java_message(exc)}",
                "check that storage.root (or --input) exists and is readable",
            ) from exc
        infos = [_info(status) for status in (statuses or [])]
        return sorted(infos, key=lambda info: info.uri)

    def list_dir(self, uri: str) -> list[FileInfo]:
        """The entries of a folder ([] when it does not exist)."""
        fs, path = self._resolve(uri)
        if not fs.exists(path):
            return []
        return sorted((_info(status) for status in fs.listStatus(path)), key=lambda i: i.uri)

    def exists(self, uri: str) -> bool:
        fs, path = self._resolve(uri)
        return bool(fs.exists(path))

    def first_line(self, uri: str) -> str | None:
        """The first line of a text file (UTF-8), or None for an empty file."""
        fs, path = self._resolve(uri)
        stream = fs.open(path)
        try:
            reader = self._jvm.java.io.BufferedReader(
                self._jvm.java.io.InputStreamReader(stream, "UTF-8")
            )
            line = reader.readLine()
        finally:
            stream.close()
        return None if line is None else str(line)

    def mkdirs(self, uri: str) -> None:
        fs, path = self._resolve(uri)
        fs.mkdirs(path)

    def delete(self, uri: str) -> None:
        fs, path = self._resolve(uri)
        if fs.exists(path):
            fs.delete(path, True)

    def rename(self, src: str, dst: str) -> None:
        """Rename (atomic on HDFS and local for a single path); the parent of dst must exist."""
        fs, source = self._resolve(src)
        _, target = self._resolve(dst)
        fs.mkdirs(target.getParent())
        if not fs.rename(source, target):
            raise OSError(f"could not rename {src} to {dst}")

    def write_text(self, uri: str, text: str) -> None:
        """Write a small file atomically: a hidden temp file, then a rename over the target."""
        fs, path = self._resolve(uri)
        tmp = self._jvm.org.apache.hadoop.fs.Path(path.getParent(), f".{path.getName()}.tmp")
        stream = fs.create(tmp, True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()
        if fs.exists(path):
            fs.delete(path, False)
        if not fs.rename(tmp, path):
            raise OSError(f"could not rename {tmp} to {uri}")


def _info(status: Any) -> FileInfo:
    path = status.getPath()
    return FileInfo(
        uri=str(path.toString()),
        name=str(path.getName()),
        size=int(status.getLen()),
        is_dir=bool(status.isDirectory()),
    )


def _java_message(exc: Exception) -> str:
    text = str(exc)
    for line in text.splitlines():
        if "Exception:" in line:
            return line.split("Exception:", 1)[1].strip()
    return text.splitlines()[0] if text else type(exc).__name__
