"""The dashboards' local copy of a stream that writes to HDFS (`storage.serving_root`).

`serve stream` reads local Parquet. When the stream's storage root is on HDFS and
`storage.serving_root` is set, the stream writes its published files twice: to HDFS, and
the same bytes to the same names under the serving root, each replaced whole by an atomic
rename, so a dashboard never reads half a file. HDFS is the record: a copy that could not
be written (a kill between the two writes, a full local disk) is logged and left behind
until the stream next starts, when `refresh` brings the copy up to date with HDFS.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from retailpipe.errors import ConfigError
from retailpipe.storage import Storage
from retailpipe.stream.files import HIDDEN_TEMP, LOCAL, Files, Location, atomic_write, visible

log = logging.getLogger(__name__)

# The stream's outputs, kept exactly as on HDFS (a file gone there is removed here), and
# the run manifests, where files are only added: `runs/` also holds the batch job's.
EXACT: tuple[str, ...] = ("stream", "stream_late", "stream_stores", "stream_dead_letter")
MIRRORED: tuple[str, ...] = (*EXACT, "runs")


class MirroredFiles:
    """A `Files` that also writes the files of some of its folders to local folders.

    `folders` maps a folder of `primary` (a URI) to its local copy. A file written there
    through a hidden temp and `replace` (`atomic_write`) is written to the copy the same
    way, from the bytes already in hand; a deleted one is deleted there too. Reads, listings
    and the other folders are the primary's alone; folders are not renamed or made inside
    copied folders (the stream never does). `exact`: the folders whose copies `refresh`
    keeps to exactly the primary's files; `single`: files (URI -> local path) `refresh`
    copies as they are.
    """

    def __init__(
        self,
        primary: Files,
        folders: Mapping[str, Path],
        exact: tuple[str, ...] = (),
        single: Mapping[str, Path] | None = None,
    ) -> None:
        self.primary = primary
        self.folders = {str(k).rstrip("/"): Path(v) for k, v in folders.items()}
        self.exact = tuple(folder.rstrip("/") for folder in exact)
        self.single = dict(single or {})
        self._pending: dict[str, bytes] = {}

    def copy_of(self, path: Location) -> Path | None:
        """The local copy of `path` when it lies in a copied folder, else None."""
        text = str(path).rstrip("/")
        for folder, copy in self.folders.items():
            if text == folder:
                return copy
            if text.startswith(folder + "/"):
                return copy / text[len(folder) + 1 :]
        return None

    def join(self, folder: Location, *names: str) -> str:
        return self.primary.join(folder, *names)

    def exists(self, path: Location) -> bool:
        return self.primary.exists(path)

    def is_dir(self, path: Location) -> bool:
        return self.primary.is_dir(path)

    def names(self, folder: Location) -> list[str]:
        return self.primary.names(folder)

    def read_bytes(self, path: Location) -> bytes:
        return self.primary.read_bytes(path)

    def write_bytes(self, path: Location, data: bytes) -> None:
        self.primary.write_bytes(path, data)
        copy = self.copy_of(path)
        if copy is None:
            return
        if copy.name.startswith("."):  # a temp: copied when it replaces its target
            self._pending[str(path)] = data
        else:
            _write_copy(copy, data)

    def replace(self, source: Location, target: Location) -> None:
        self.primary.replace(source, target)
        data = self._pending.pop(str(source), None)
        copy = self.copy_of(target)
        if data is not None and copy is not None:
            _write_copy(copy, data)

    def rename_dir(self, source: Location, target: Location) -> None:
        self._not_copied(source, target)
        self.primary.rename_dir(source, target)

    def delete(self, path: Location) -> None:
        self.primary.delete(path)
        copy = self.copy_of(path)
        if copy is not None:
            LOCAL.delete(copy)

    def mkdirs(self, path: Location) -> None:
        self._not_copied(path)
        self.primary.mkdirs(path)

    def _not_copied(self, *paths: Location) -> None:
        for path in paths:
            if self.copy_of(path) is not None:
                raise ValueError(f"{path} is in a folder copied to the serving root")

    def refresh(self) -> int:
        """Bring the copies up to date with the primary: copy every visible file of the
        copied folders (and every `single` file) that differs from its copy, drop temps a
        killed write left in the copies, and in the `exact` folders remove copies of files
        the primary has not. Returns how many files were copied."""
        try:
            copied = sum(self._refresh_folder(f, copy) for f, copy in self.folders.items())
            for path, copy in self.single.items():
                if self.primary.exists(path):
                    copied += _copy_if_changed(self.primary, path, copy)
        except OSError as exc:
            raise ConfigError(
                f"cannot write the serving copy {exc.filename or ''}: {exc.strerror or exc}",
                "set storage.serving_root to a local folder this user can write, with free space",
            ) from exc
        return copied

    def _refresh_folder(self, folder: str, copy: Path) -> int:
        copy.mkdir(parents=True, exist_ok=True)
        names = [n for n in self.primary.names(folder) if visible(n)]
        copied = 0
        for name in names:
            path = self.primary.join(folder, name)
            if not self.primary.is_dir(path):
                copied += _copy_if_changed(self.primary, path, copy / name)
        for name in LOCAL.names(copy):
            stale = folder in self.exact and visible(name) and name not in names
            if stale or HIDDEN_TEMP.match(name):
                LOCAL.delete(copy / name)
        return copied


def _write_copy(copy: Path, data: bytes) -> None:
    try:
        atomic_write(LOCAL, copy, data)
    except OSError as exc:
        log.warning(
            "could not update the serving copy %s (%s); it is brought up to date "
            "when the stream next starts",
            copy,
            exc.strerror or exc,
        )


def _copy_if_changed(primary: Files, path: str, copy: Path) -> int:
    """Copy the file `path` of `primary` to the local `copy` unless an equal copy is there;
    returns 1 when it copied."""
    data = primary.read_bytes(path)
    if copy.is_file() and copy.read_bytes() == data:
        return 0
    atomic_write(LOCAL, copy, data)
    return 1


def serving_mirror(primary: Files, storage: Storage, serving: Storage) -> MirroredFiles:
    """`primary` (the file system of `storage`, an HDFS root) with what `serve stream` reads
    copied to the local `serving` root: the stream's datasets and the store names. Call
    `refresh` once the outputs are prepared (a `--reset` has deleted them)."""
    return MirroredFiles(
        primary,
        {storage.uri(name): serving.path(name) for name in MIRRORED},
        exact=tuple(storage.uri(name) for name in EXACT),
        single={storage.uri("stores"): serving.path("stores")},
    )
