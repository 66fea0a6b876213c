"""Artifacts: files under ``<store>/artifacts/<experiment_id>/<run_id>/artifacts/``.

I/O goes through Arrow file systems (local, S3, HDFS, GCS natively; ABFS through
fsspec's adlfs when installed), so the same code serves a laptop and a cluster.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from sparktrack.errors import ConfigurationError, InvalidInputError, NotFoundError, StoreError
from sparktrack.store._uri import StoreLocation

__all__ = ["ArtifactRepository", "FileInfo", "filesystem_for"]


@dataclass(frozen=True)
class FileInfo:
    """A file or folder among a run's artifacts, as ``list_artifacts`` returns it.

    Attributes:
        path: Its path relative to the run's artifact root (``"model/MLmodel"``).
        is_dir: True for a folder.
        file_size: Its size in bytes; None for a folder.
    """

    path: str  # relative to the run's artifact root
    is_dir: bool
    file_size: int | None


def filesystem_for(location: StoreLocation) -> tuple[pafs.FileSystem, str]:
    """Find the Arrow file system holding a store.

    Args:
        location: The store's location (``parse_store_uri``).

    Returns:
        The file system and the store's path within it.

    Raises:
        ConfigurationError: No file system serves the URI (ABFS without ``adlfs``
            installed, an unknown scheme, missing credentials).
    """
    if location.is_local:
        assert location.local_path is not None
        return pafs.LocalFileSystem(), location.local_path
    uri = location.for_delta_rs()
    scheme = uri.split("://", 1)[0]
    if scheme in ("abfs", "abfss"):
        try:
            import fsspec

            fs = fsspec.filesystem("abfs")
        except Exception as exc:
            raise ConfigurationError(
                f"artifacts at {uri!r} need fsspec and adlfs: pip install adlfs"
            ) from exc
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), uri.split("://", 1)[1]
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except Exception as exc:
        raise ConfigurationError(f"cannot open a file system for store {uri!r}: {exc}") from exc
    return fs, path


def check_artifact_path(artifact_path: str | None) -> str:
    """Normalise a relative artifact path; reject absolute paths and ``..``.

    Args:
        artifact_path: A ``/``-separated path inside a run's artifacts; None or ``.``
            for the run's artifact root.

    Returns:
        The normalised path, ``""`` for the root.

    Raises:
        InvalidInputError: The path is absolute or leaves the run's artifact folder.
    """
    if artifact_path in (None, "", "."):
        return ""
    assert artifact_path is not None
    cleaned = posixpath.normpath(artifact_path.replace("\\", "/"))
    if cleaned.startswith("/") or cleaned == ".." or cleaned.startswith("../"):
        raise InvalidInputError(
            f"artifact_path {artifact_path!r} must be relative and stay inside the run's "
            "artifact folder (no leading '/', no '..')"
        )
    return "" if cleaned == "." else cleaned


class ArtifactRepository:
    """The artifact tree of one store: ``artifacts/<experiment_id>/<run_id>/artifacts/``.

    Runs reach it through their client (``log_artifact``, ``list_artifacts``, ...), which
    knows each run's experiment; paths within a run are relative (``"a/b.txt"``) and
    may not leave the run's folder.

    Args:
        location: The store's location (``parse_store_uri``).

    Raises:
        ConfigurationError: No file system serves the store's URI.
    """

    def __init__(self, location: StoreLocation) -> None:
        self._location = location
        self._fs, self._base = filesystem_for(location)
        self._base = self._base.rstrip("/") + "/artifacts"

    def experiment_root(self, experiment_id: str) -> str:
        """Locate an experiment's artifact folder, its ``artifact_location``.

        Args:
            experiment_id: The experiment.

        Returns:
            The folder's path or URI, spelled like the store's URI.
        """
        return self._location.join("artifacts", experiment_id)

    def run_root(self, experiment_id: str, run_id: str) -> str:
        """Locate a run's artifact folder.

        Args:
            experiment_id: The run's experiment.
            run_id: The run.

        Returns:
            The URI users see as the run's ``artifact_uri``.
        """
        return self._location.join("artifacts", experiment_id, run_id, "artifacts")

    def logged_model_root(self, experiment_id: str, model_id: str) -> str:
        """Locate a logged model's folder: ``artifacts/<exp>/models/<model_id>/artifacts``.

        Beside the experiment's runs (run ids are hex, never ``models``), the layout
        MLflow's server gives logged models, so its client's paths map one to one.

        Args:
            experiment_id: The model's experiment.
            model_id: The logged model (``m-<hex>``).

        Returns:
            The folder's path or URI, spelled like the store's URI.
        """
        return self._location.join("artifacts", experiment_id, "models", model_id, "artifacts")

    def uri_for(self, experiment_id: str, run_id: str, rel_path: str | None = None) -> str:
        """Spell a path in a run's artifacts for Hadoop and Spark.

        Spark writes large artifacts (a Spark ML model's ``sparkml/`` folder) straight to
        this URI, so they never pass through the driver's Python process.

        Args:
            experiment_id: The run's experiment.
            run_id: The run.
            rel_path: A path relative to the run's artifact root (None: the root).

        Returns:
            A Hadoop/Spark-usable URI (``file:///...`` for a local store).

        Raises:
            InvalidInputError: ``rel_path`` is absolute or leaves the run's folder.
        """
        rel = check_artifact_path(rel_path)
        return self._location.for_spark("artifacts", experiment_id, run_id, "artifacts", rel)

    def local_path_for(
        self, experiment_id: str, run_id: str, rel_path: str | None = None
    ) -> str | None:
        """Spell a path in a run's artifacts as a local file-system path.

        Args:
            experiment_id: The run's experiment.
            run_id: The run.
            rel_path: A path relative to the run's artifact root (None: the root).

        Returns:
            The local path; None for a store that is not on the local file system.

        Raises:
            InvalidInputError: ``rel_path`` is absolute or leaves the run's folder.
        """
        if not self._location.is_local:
            return None
        rel = check_artifact_path(rel_path)
        return self._location.join("artifacts", experiment_id, run_id, "artifacts", rel)

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """The tree's Arrow file system and the path of the ``artifacts`` folder in it.

        For content no single run owns: source snapshots, shared by every run of the
        same code, live in ``artifacts/snapshots/<digest>/`` (experiment ids are numbers).

        Returns:
            The file system and the folder's path within it (no trailing ``/``).
        """
        return self._fs, self._base

    def _abs(self, experiment_id: str, run_id: str, rel: str) -> str:
        root = f"{self._base}/{experiment_id}/{run_id}/artifacts"
        return f"{root}/{rel}" if rel else root

    def write_bytes(self, experiment_id: str, run_id: str, rel_path: str, data: bytes) -> None:
        """Write one artifact file; readers never see half of it.

        Args:
            experiment_id: The run's experiment.
            run_id: The run.
            rel_path: The file's path relative to the run's artifact root.
            data: The file's content.

        Raises:
            InvalidInputError: ``rel_path`` is empty, absolute or leaves the run's folder.
            StoreError: The file could not be written.
        """
        rel = check_artifact_path(rel_path)
        if not rel:
            raise InvalidInputError("an artifact file name is required, got an empty path")
        target = self._abs(experiment_id, run_id, rel)
        with _storage_errors("write artifact", target):
            self._fs.create_dir(posixpath.dirname(target), recursive=True)
            # Write to a temporary name and move, so readers never see half a file.
            tmp = f"{target}.tmp-{os.getpid()}"
            with self._fs.open_output_stream(tmp) as out:
                out.write(data)
            self._fs.move(tmp, target)

    def upload(
        self, experiment_id: str, run_id: str, local: str | Path, artifact_path: str | None
    ) -> None:
        """Copy a local file, or a folder with everything in it, into a run's artifacts.

        Args:
            experiment_id: The run's experiment.
            run_id: The run.
            local: The local file or folder.
            artifact_path: The folder to copy into, relative to the run's artifact root
                (None: the root). A file keeps its name; a folder's content is copied.

        Raises:
            NotFoundError: ``local`` does not exist.
            InvalidInputError: ``artifact_path`` is absolute or leaves the run's folder.
            StoreError: A file could not be written.
        """
        source = Path(local)
        if not source.exists():
            raise NotFoundError(f"cannot log artifact {str(local)!r}: no such file or directory")
        rel_dir = check_artifact_path(artifact_path)
        if source.is_dir():
            for child in sorted(source.rglob("*")):
                if child.is_file():
                    rel = child.relative_to(source).as_posix()
                    self.write_bytes(
                        experiment_id, run_id, posixpath.join(rel_dir, rel), child.read_bytes()
                    )
            return
        self.write_bytes(
            experiment_id, run_id, posixpath.join(rel_dir, source.name), source.read_bytes()
        )

    def read_bytes(self, experiment_id: str, run_id: str, rel_path: str) -> bytes:
        """Read one artifact file.

        Args:
            experiment_id: The run's experiment.
            run_id: The run.
            rel_path: The file's path relative to the run's artifact root.

        Returns:
            The file's content.

        Raises:
            NotFoundError: The run has no such file.
            StoreError: The file could not be read.
        """
        target = self._abs(experiment_id, run_id, check_artifact_path(rel_path))
        try:
            with (
                _storage_errors("read artifact", target, reading=True),
                self._fs.open_input_stream(target) as stream,
            ):
                return bytes(stream.read())
        except FileNotFoundError as exc:
            raise NotFoundError(f"artifact {rel_path!r} of run {run_id} does not exist") from exc

    def list_logged_model(
        self, experiment_id: str, model_id: str, path: str | None = None
    ) -> list[FileInfo]:
        """List what lies directly in a folder of a logged model (see ``list``).

        Args:
            experiment_id: The model's experiment.
            model_id: The logged model.
            path: The folder, relative to the model's folder (None: the folder itself).

        Returns:
            Its files and folders, sorted by path; empty for a file or a missing path.
        """
        # artifacts/<exp>/models/<model_id>/artifacts is laid out as a run's folder
        # would be for a run id of models/<model_id> (run ids never contain '/').
        return self.list(experiment_id, f"models/{model_id}", path)

    def list(self, experiment_id: str, run_id: str, path: str | None = None) -> list[FileInfo]:
        """List what lies directly in a folder of a run's artifacts.

        Args:
            experiment_id: The run's experiment.
            run_id: The run.
            path: The folder, relative to the run's artifact root (None: the root).

        Returns:
            Its files and folders, sorted by path; empty for a file or a missing path
            (as MLflow does).
        """
        rel = check_artifact_path(path)
        root = self._abs(experiment_id, run_id, "")
        target = self._abs(experiment_id, run_id, rel)
        if self._fs.get_file_info(target).type != pafs.FileType.Directory:
            return []
        infos = self._fs.get_file_info(pafs.FileSelector(target, allow_not_found=True))
        listed = [
            FileInfo(
                path=posixpath.relpath(info.path, root),
                is_dir=info.type == pafs.FileType.Directory,
                file_size=None if info.type == pafs.FileType.Directory else info.size,
            )
            for info in infos
        ]
        return sorted(listed, key=lambda f: f.path)

    def download(self, experiment_id: str, run_id: str, path: str | None, dst: str | Path) -> Path:
        """Copy a file or folder of a run's artifacts under ``dst``, keeping its path.

        As MLflow does, ``a/b.txt`` lands at ``dst/a/b.txt``, folder ``a`` at ``dst/a``
        and the whole run (``path`` empty) directly in ``dst``.

        Args:
            experiment_id: The run's experiment.
            run_id: The run.
            path: The file or folder, relative to the run's artifact root (None or
                empty: every artifact of the run).
            dst: A local folder, created if missing; it must not be a file.

        Returns:
            The local path of the copy.

        Raises:
            NotFoundError: The run has no such file or folder.
            InvalidInputError: ``dst`` is a file, or ``path`` leaves the run's folder.
        """
        rel = check_artifact_path(path)
        source = self._abs(experiment_id, run_id, rel)
        info = self._fs.get_file_info(source)
        if info.type == pafs.FileType.NotFound:
            raise NotFoundError(f"artifact {path!r} of run {run_id} does not exist")
        root = Path(dst)
        if root.exists() and not root.is_dir():
            raise InvalidInputError(
                f"cannot download artifacts of run {run_id} into {str(dst)!r}: it is a file; "
                "give a folder (or no dst_path for a new temporary folder)"
            )
        destination = root.joinpath(*rel.split("/")) if rel else root
        local = pafs.LocalFileSystem()
        if info.type == pafs.FileType.File:
            destination.parent.mkdir(parents=True, exist_ok=True)
            pafs.copy_files(
                source, str(destination), source_filesystem=self._fs, destination_filesystem=local
            )
            return destination
        destination.mkdir(parents=True, exist_ok=True)
        pafs.copy_files(
            source, str(destination), source_filesystem=self._fs, destination_filesystem=local
        )
        # copy_files copies files only; keep empty folders too, as MLflow does.
        for entry in self._fs.get_file_info(pafs.FileSelector(source, recursive=True)):
            if entry.type == pafs.FileType.Directory:
                inner = posixpath.relpath(entry.path, source)
                destination.joinpath(*inner.split("/")).mkdir(parents=True, exist_ok=True)
        return destination

    def describe(self) -> dict[str, Any]:
        """Describe the tree for diagnostics (``sparktrack doctor``).

        Returns:
            ``root``: the artifacts folder; ``filesystem``: the Arrow file system's type.
        """
        return {"root": self._location.join("artifacts"), "filesystem": self._fs.type_name}


@contextlib.contextmanager
def _storage_errors(what: str, path: str, *, reading: bool = False) -> Iterator[None]:
    """I/O failures of the artifact store as StoreError (a file missing on read stays itself)."""
    try:
        yield
    except OSError as exc:
        if reading and isinstance(exc, FileNotFoundError):
            raise
        raise StoreError(
            f"cannot {what} {path!r}: {exc}. Make sure the store's artifacts folder exists "
            "and is writable by this user (or, on a cluster store, that its credentials allow "
            "it)."
        ) from exc
