"""The dashboards' local copy of an HDFS storage root (`storage.serving_root`).

`serve` reads local Parquet. When the storage root is on HDFS and `storage.serving_root`
is set, both paths keep a local copy of what the dashboards read, through the driver's
Hadoop client (`HadoopFiles`), each file or folder replaced whole by an atomic rename, so
a dashboard never reads half of anything:

* The batch job, once published, copies `curated/` into a new hidden version folder of
  the copy and swaps the `curated` symbolic link to it (as a local batch run publishes),
  then the batch run manifests and the dimension files (`refresh_batch_copy`).
* The stream writes its published files twice: to HDFS, and the same bytes to the same
  names in the copy (`MirroredFiles`). HDFS is the record: a copy that could not be
  written (a kill between the two writes, a full local disk) is logged and left behind
  until the stream next starts, when `refresh` brings the copy up to date with HDFS.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from retailpipe.errors import ConfigError
from retailpipe.fs import (
    HIDDEN_TEMP,
    LOCAL,
    FileInfo,
    Files,
    HadoopFiles,
    Location,
    atomic_write,
    visible,
)
from retailpipe.runs import new_run_id
from retailpipe.storage import Storage, serving_copy

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

    def entries(self, folder: Location) -> list[FileInfo]:
        return self.primary.entries(folder)

    def glob(self, pattern: Location) -> list[FileInfo]:
        return self.primary.glob(pattern)

    def read_bytes(self, path: Location) -> bytes:
        return self.primary.read_bytes(path)

    def first_line(self, path: Location) -> str | None:
        return self.primary.first_line(path)

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

    def rename(self, source: Location, target: Location) -> None:
        self._not_copied(source, target)
        self.primary.rename(source, target)

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
        with _writing_copy():
            copied = sum(self._refresh_folder(f, copy) for f, copy in self.folders.items())
            for path, copy in self.single.items():
                if self.primary.exists(path):
                    copied += _copy_if_changed(self.primary, path, copy)
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


@contextmanager
def _writing_copy() -> Iterator[None]:
    """A local write error while refreshing the copy, as one line with its fix."""
    try:
        yield
    except OSError as exc:
        raise ConfigError(
            f"cannot write the serving copy {exc.filename or ''}: {exc.strerror or exc}",
            "set storage.serving_root to a local folder this user can write, with free space",
        ) from exc


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


def refresh_batch_copy(
    files: HadoopFiles, storage: Storage, serving_root: str | None
) -> Path | None:
    """Copy `curated/`, the batch run manifests and the dimension files of an hdfs:// root
    to `serving_root`; returns the copy's folder, or None when no copy is configured.

    The copy is published like a local batch run: a new hidden version folder, then an
    atomic symbolic-link swap of `curated`; the manifests and dimension files are each
    replaced by an atomic rename.
    """
    if storage.is_local or not serving_root:
        return None
    target = serving_copy(serving_root)
    root = target.local_root
    staging = root / "_versions" / new_run_id()
    log.info("copying %s to the serving copy %s", storage.uri("curated"), root)
    with _writing_copy():
        staging.mkdir(parents=True)
        files.copy_to_local(storage.uri("curated"), staging / "curated")
        for manifest in files.glob(storage.uri("runs", "batch-*.json")):
            _copy_if_changed(files, manifest.uri, target.path("runs", manifest.name))
        for name in ("stores", "products"):
            if files.exists(storage.uri(name)):
                _copy_if_changed(files, storage.uri(name), target.path(name))
        _swap_symlink(root / "curated", staging / "curated")
        for entry in (root / "_versions").iterdir():
            if entry != staging:
                shutil.rmtree(entry, ignore_errors=True)
    return root


def _swap_symlink(link: Path, target: Path) -> None:
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)  # a plain folder from an older copy: replaced once
    fresh = link.with_name(f".{link.name}.link-{target.parent.name}")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target)
    os.replace(fresh, link)
