"""Snapshots in the store: ``<artifact root>/snapshots/<digest>/``, written once, read by name.

A snapshot's folder is complete once its ``manifest.json`` is there: the other files are
written first, each under a temporary name moved into place, the manifest last. So a
folder with a manifest never lacks a file, and writers racing on the same digest (two
processes running the same script) write the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from sparktrack.errors import InvalidInputError, NotFoundError, StoreError
from sparktrack.store import ArtifactRepository
from sparktrack.tracking._snapshot import MANIFEST, Snapshot

__all__ = ["SnapshotStore", "SourceSnapshot"]

_DIGEST = re.compile(r"[0-9a-f]{64}")


class SnapshotStore:
    """The ``snapshots/`` folder of a store's artifact tree."""

    def __init__(self, repository: ArtifactRepository) -> None:
        self._fs, base = repository.filesystem()
        self._root = f"{base}/snapshots"

    def _path(self, digest: str, name: str) -> str:
        return f"{self._root}/{digest}/{name}"

    def has(self, digest: str) -> bool:
        """Whether the snapshot is stored whole (its manifest is there)."""
        info = self._fs.get_file_info(self._path(digest, MANIFEST))
        return bool(info.type == pafs.FileType.File)

    def write(self, snapshot: Snapshot) -> None:
        """Store ``snapshot``: its files, then its manifest.

        Raises:
            StoreError: A file could not be written (the manifest is then not written).
        """
        try:
            self._fs.create_dir(f"{self._root}/{snapshot.digest}", recursive=True)
            for part in snapshot.parts:
                self._write(self._path(snapshot.digest, part.name), part.data)
            self._write(self._path(snapshot.digest, MANIFEST), snapshot.manifest)
        except OSError as exc:
            raise StoreError(
                f"cannot store source snapshot {snapshot.digest} under {self._root!r}: {exc}"
            ) from exc

    def _write(self, target: str, data: bytes) -> None:
        tmp = f"{target}.tmp-{os.getpid()}"
        with self._fs.open_output_stream(tmp) as out:
            out.write(data)
        self._fs.move(tmp, target)

    def read(self, digest: str, name: str) -> bytes:
        """The bytes of one file of a stored snapshot.

        Raises:
            NotFoundError: The snapshot has no such file.
            StoreError: The file could not be read.
        """
        target = self._path(digest, name)
        try:
            with self._fs.open_input_stream(target) as stream:
                return bytes(stream.read())
        except FileNotFoundError as exc:
            raise NotFoundError(f"source snapshot {digest} has no file {name!r}") from exc
        except OSError as exc:
            raise StoreError(f"cannot read {target!r}: {exc}") from exc

    def open(self, run_id: str, digest: str) -> SourceSnapshot:
        """The snapshot ``digest`` that run ``run_id`` points to.

        Raises:
            NotFoundError: It is not stored (whole).
            StoreError: Its manifest is not one this version of sparktrack reads.
        """
        if not _DIGEST.fullmatch(digest):
            raise StoreError(f"run {run_id}'s source snapshot tag {digest!r} is not a digest")
        try:
            manifest = json.loads(self.read(digest, MANIFEST))
        except NotFoundError as exc:
            raise NotFoundError(
                f"run {run_id}'s source snapshot {digest} is not in the store (under "
                f"{self._root!r}): it was deleted, or the run's tag was copied from elsewhere"
            ) from exc
        except ValueError as exc:
            raise StoreError(f"the manifest of source snapshot {digest} is damaged") from exc
        return SourceSnapshot(run_id, digest, manifest, self)


@dataclass(frozen=True)
class SourceSnapshot:
    """A run's source snapshot: what ran, git diff, packages, versions, Spark conf.

    ``TrackingClient.get_source_snapshot`` returns it; "Source snapshots" in
    docs/reproducibility.md describes the files.

    Attributes:
        run_id: The run it was read for (many runs may share it).
        digest: Its name: the sha256 (hex) of its manifest.
        manifest: ``manifest.json``: ``source`` (name, type), ``main`` (the file of
            what ran), ``files`` (name -> role, sha256, size, note), ``git`` (commit,
            root) and ``omitted`` (files left out, and why).
    """

    run_id: str
    digest: str
    manifest: dict[str, Any]
    _store: SnapshotStore

    @property
    def files(self) -> list[str]:
        """The names of its files, ``manifest.json`` first."""
        return [MANIFEST, *sorted(self.manifest.get("files", {}))]

    @property
    def main(self) -> str | None:
        """The name of the file of what ran (a script, a notebook), or None."""
        return self.manifest.get("main") or None

    def read(self, name: str | None = None) -> bytes:
        """The content of one of its files, checked against the manifest.

        Args:
            name: One of ``files`` (default: ``main``).

        Returns:
            The file's bytes.

        Raises:
            NotFoundError: No file has that name (or there is no main file).
            StoreError: The file does not match its digest in the manifest.
        """
        chosen = name or self.main
        if chosen is None:
            raise NotFoundError(
                f"source snapshot {self.digest} of run {self.run_id} holds no script or "
                f"notebook; name one of its files: {', '.join(self.files)}"
            )
        if chosen not in self.files:
            raise NotFoundError(
                f"source snapshot {self.digest} of run {self.run_id} has no file "
                f"{chosen!r}; its files: {', '.join(self.files)}"
            )
        data = self._store.read(self.digest, chosen)
        expected = self.manifest["files"].get(chosen, {}).get("sha256")
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            raise StoreError(
                f"file {chosen!r} of source snapshot {self.digest} does not match its "
                "digest in the manifest: the store's copy is damaged"
            )
        return data

    def extract(self, destination: str | Path) -> Path:
        """Write every file (the manifest too) into a local folder.

        Args:
            destination: The folder (created if missing); existing files of the same
                names are replaced.

        Returns:
            The folder.

        Raises:
            InvalidInputError: ``destination`` is a file.
            StoreError: A file does not match its digest.
        """
        folder = Path(destination)
        if folder.exists() and not folder.is_dir():
            raise InvalidInputError(
                f"cannot extract the source snapshot of run {self.run_id} into "
                f"{str(destination)!r}: it is a file; give a folder"
            )
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.files:
            # Names come from the manifest: keep each inside the folder whatever it says.
            (folder / posixpath.basename(name)).write_bytes(self.read(name))
        return folder
