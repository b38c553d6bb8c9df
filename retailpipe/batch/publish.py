"""Publishing a run's outputs so readers only ever see complete versions.

Every run writes into its own hidden version folder, `<root>/_versions/<run_id>/`
(`curated/...` and `quarantine/`). Nothing under `curated/` or `quarantine/` changes until
the run has written everything.

* Local roots: `curated` and `quarantine` are symbolic links into the current version.
  Sale-date partitions the run does not recompute are hard-linked (same inodes, same bytes)
  into the new version, then each link is replaced with `os.replace`, which is atomic: a
  reader resolves either the old or the new version, never a mix. The previous version is
  kept for readers still in it; older and abandoned (killed) versions are removed.
* HDFS (no symbolic links): each recomputed partition, aggregate folder, CSV file and the
  quarantine folder is swapped in with a directory rename, which is atomic per folder; a
  reader never sees a partly written folder.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from retailpipe.fs import HadoopFiles
from retailpipe.pause import BEFORE_BATCH_PUBLISH, pause_at
from retailpipe.storage import AGGREGATES, DATASETS, Storage

log = logging.getLogger(__name__)

PUBLISHED = ("curated", "quarantine")
# Sorts before every run id, so it is the oldest version.
LEGACY = "00000000T000000Z-legacy"


@dataclass(frozen=True)
class Version:
    """The version folder of one run."""

    storage: Storage
    run_id: str

    def uri(self, dataset: str, *parts: str) -> str:
        return self.storage.uri("versions", self.run_id, DATASETS[dataset], *parts)

    def path(self, dataset: str, *parts: str) -> Path:
        return self.storage.path("versions", self.run_id, DATASETS[dataset], *parts)


def publish(
    fs: HadoopFiles,
    version: Version,
    affected: set[str],
    csv_names: list[str],
    names: tuple[str, ...] = PUBLISHED,
) -> None:
    """Make the run's version the published one. `affected`: partition folder names
    (`sale_date=...`) the run recomputed; other partitions are carried over unchanged.
    `names`: what to publish (`("quarantine",)`: a run the quality gate refused)."""
    pause_at(BEFORE_BATCH_PUBLISH)
    if version.storage.is_local:
        _publish_local(version, affected, names)
    else:
        _publish_renames(fs, version, affected, csv_names, names)


def _publish_local(version: Version, affected: set[str], names: tuple[str, ...]) -> None:
    storage = version.storage
    for name in names:
        _adopt_plain_folder(storage, name)
    if "curated" in names:
        current = storage.path("transactions")
        new = version.path("transactions")
        new.mkdir(parents=True, exist_ok=True)
        if current.is_dir():
            for partition in sorted(
                p for p in current.iterdir() if p.name.startswith("sale_date=")
            ):
                if partition.name not in affected:
                    _hard_link_tree(partition, new / partition.name)
    version.path("quarantine").mkdir(parents=True, exist_ok=True)
    previous = _linked_versions(storage)
    for name in names:
        target = os.path.relpath(storage.path("versions", version.run_id, name), storage.local_root)
        link = storage.path(name)
        tmp = link.with_name(f".{name}.link-{version.run_id}")
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(target, tmp)
        os.replace(tmp, link)
    _collect_garbage(storage, keep={version.run_id, *previous})


def _adopt_plain_folder(storage: Storage, name: str) -> None:
    """A plain `curated/` folder (written before versioning) becomes a version of its own."""
    path = storage.path(name)
    if path.is_dir() and not path.is_symlink():
        legacy = storage.path("versions", LEGACY, name)
        legacy.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, legacy)
        os.symlink(os.path.relpath(legacy, storage.local_root), path)
        log.info("moved the unversioned %s folder to %s", name, legacy)


def _hard_link_tree(source: Path, target: Path) -> None:
    """Recreate `source` at `target` with hard links: no byte is copied or changed."""
    for folder, _dirs, files in os.walk(source):
        dest = target / os.path.relpath(folder, source)
        dest.mkdir(parents=True, exist_ok=True)
        for file in files:
            if not (dest / file).exists():
                os.link(os.path.join(folder, file), dest / file)


def _linked_versions(storage: Storage) -> set[str]:
    """The version folders `curated` and `quarantine` point at now."""
    return {
        Path(os.path.realpath(storage.path(name))).parent.name
        for name in PUBLISHED
        if storage.path(name).is_symlink()
    }


def _collect_garbage(storage: Storage, keep: set[str]) -> None:
    """Remove every version but the new and the previous one (a reader may still be in it),
    including abandoned versions of killed runs. Shared files live on through hard links."""
    newest = max(keep)
    for folder in storage.path("versions").iterdir():
        if folder.name in keep or folder.name > newest:  # > newest: a run still writing
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _publish_renames(
    fs: HadoopFiles,
    version: Version,
    affected: set[str],
    csv_names: list[str],
    names: tuple[str, ...],
) -> None:
    storage = version.storage
    replaced = storage.uri("versions", version.run_id, "_replaced")
    swaps: list[tuple[str, str]] = []
    if "curated" in names:
        for partition in sorted(affected):
            swaps.append(
                (version.uri("transactions", partition), storage.uri("transactions", partition))
            )
        for name in AGGREGATES:
            swaps.append((version.uri(name), storage.uri(name)))
        for csv_name in csv_names:
            swaps.append(
                (version.uri("curated_csv", csv_name), storage.uri("curated_csv", csv_name))
            )
    swaps.append((version.uri("quarantine"), storage.uri("quarantine")))
    for index, (new, live) in enumerate(swaps):
        if fs.exists(live):
            fs.rename(live, f"{replaced}/{index}")
        if fs.exists(new):
            fs.rename(new, live)
    fs.delete(storage.uri("versions", version.run_id))
    for info in fs.entries(storage.uri("versions")):
        if info.name < version.run_id:
            fs.delete(info.uri)


def clean_abandoned(fs: HadoopFiles, storage: Storage, run_id: str) -> None:
    """Remove the version folder of a run that failed before publishing."""
    fs.delete(storage.uri("versions", run_id))
