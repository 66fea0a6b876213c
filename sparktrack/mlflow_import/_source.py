"""What the importer reads from an MLflow store, whatever its kind.

``open_source`` picks the reader for a tracking URI: ``sqlite:///path.db`` (MLflow's
SQL schema, read with the standard library), a ``./mlruns`` folder or ``file:`` URI
(MLflow's FileStore layout) and ``http(s)://`` (MLflow's REST API). Each reads MLflow's
records (``_records``) and hands out its artifact folders as ``ArtifactTree``s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.mlflow_import._records import (
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModel,
    MlflowRun,
)

__all__ = [
    "ArtifactTree",
    "FileSystemTree",
    "MlflowSource",
    "check_folder",
    "local_path_of",
    "refuse",
    "tree_at",
]


class ArtifactTree(Protocol):
    """A folder of artifact files in the MLflow store (a run's, a logged model's)."""

    def files(self) -> list[tuple[str, int]]:
        """Every file below the folder: (path relative to it, size in bytes)."""

    def copy_to(self, filesystem: pafs.FileSystem, folder: str) -> None:
        """Copy every file into ``folder`` of ``filesystem``, keeping relative paths."""


class MlflowSource(Protocol):
    """An MLflow store, read-only. Experiments and runs keep MLflow's ids."""

    uri: str

    def experiments(self) -> list[MlflowExperiment]:
        """Every experiment, deleted ones included."""

    def run_ids(self, experiment_id: str) -> list[str]:
        """The ids of every run of an experiment (deleted runs included), oldest first."""

    def runs(self, experiment_id: str, run_ids: Sequence[str]) -> list[MlflowRun]:
        """These runs of the experiment, with everything logged to them."""

    def logged_models(self) -> list[MlflowLoggedModel]:
        """MLflow 3 logged models (none for stores written before MLflow 3)."""

    def registered_models(self) -> list[MlflowModel]:
        """Registered models, with their versions."""

    def run_artifacts(self, run: MlflowRun) -> ArtifactTree | str:
        """The run's artifact folder, or why it cannot be read."""

    def model_artifacts(self, model: MlflowLoggedModel) -> ArtifactTree | str:
        """The logged model's folder, or why it cannot be read."""

    def not_carried(self) -> dict[str, int]:
        """What the store holds that has no place in sparktrack: kind -> how many."""

    def close(self) -> None:
        """Let go of connections."""


def local_path_of(uri: str, base: str | None = None) -> str | None:
    """The local path a ``file:`` URI or a plain path names (None: another scheme).

    A relative path is taken from ``base`` (default: the working directory).
    """
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return os.path.abspath(os.path.join(base or os.getcwd(), uri))
    return None


class FileSystemTree:
    """An artifact folder on a file system Arrow reads (local, S3, GCS, HDFS, ...).

    Args:
        filesystem: The folder's file system.
        folder: The folder's path in it.
    """

    def __init__(self, filesystem: pafs.FileSystem, folder: str) -> None:
        self._fs = filesystem
        self._folder = folder.rstrip("/")

    def files(self) -> list[tuple[str, int]]:
        info = self._fs.get_file_info(self._folder)
        if info.type != pafs.FileType.Directory:
            return []
        selector = pafs.FileSelector(self._folder, recursive=True, allow_not_found=True)
        prefix = len(self._folder) + 1
        return sorted(
            (entry.path[prefix:], int(entry.size or 0))
            for entry in self._fs.get_file_info(selector)
            if entry.type == pafs.FileType.File
        )

    def copy_to(self, filesystem: pafs.FileSystem, folder: str) -> None:
        if not self.files():
            return
        # Arrow's copy streams every file, several at once, without passing through Python
        # (it makes the folders below the target, not the target itself).
        filesystem.create_dir(folder, recursive=True)
        pafs.copy_files(
            self._folder,
            folder,
            source_filesystem=self._fs,
            destination_filesystem=filesystem,
            use_threads=True,
        )


def tree_at(uri: str | None, base: str) -> ArtifactTree | str:
    """The artifact folder at ``uri`` (a path or a URI Arrow has a file system for).

    A relative path (MLflow's default ``./mlruns`` artifact root) is taken from
    ``base``: where MLflow ran, as far as the store tells (the folder of its database
    or of its ``mlruns``).

    Returns:
        The tree, or why it cannot be read (``mlflow-artifacts:`` URIs are served by
        the MLflow server only: import through its ``http(s)://`` URI then).
    """
    if not uri:
        return "it has no artifact location"
    if uri.startswith("mlflow-artifacts:"):
        return (
            f"{uri!r} is served by the MLflow tracking server only: import through the "
            "server's http(s):// URI to carry these artifacts"
        )
    path = local_path_of(uri, base)
    if path is not None:
        return FileSystemTree(pafs.LocalFileSystem(), path)
    try:
        filesystem, folder = pafs.FileSystem.from_uri(uri)
    except (OSError, ValueError) as exc:
        return f"no file system reads {uri!r} here ({exc})"
    return FileSystemTree(filesystem, folder)


def check_folder(path: str, what: str) -> str:
    """``path`` if it is a folder; NotFoundError naming ``what`` otherwise."""
    if not os.path.isdir(path):
        raise NotFoundError(f"{what} {path!r} does not exist or is not a folder")
    return path


def refuse(uri: str) -> InvalidInputError:
    """The error for a source URI no reader takes."""
    return InvalidInputError(
        f"cannot import MLflow store {uri!r}: supported are sqlite:///path/to/mlflow.db "
        "(MLflow's SQLite store), a ./mlruns folder or file: URI (MLflow's FileStore) and "
        "http(s)://host:port (an MLflow tracking server). For another database (PostgreSQL, "
        "MySQL, ...), run `mlflow server --backend-store-uri <that URL>` and import "
        "through its http:// URI."
    )
