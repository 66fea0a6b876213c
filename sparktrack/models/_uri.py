"""Where a model folder lives, and reading/writing its small files there.

Three kinds of places, one interface:

* a local folder (``/path``, ``relative/path``, ``file:///path``), also a run's
  artifacts on a local store: plain file I/O;
* a run's artifacts on a remote store (``runs:/<run_id>/<path>``): the store's
  ArtifactRepository, so the same credentials serve models and other artifacts;
* any other Hadoop URI (``hdfs://``, ``s3a://``, ``abfss://``, ...): the Hadoop
  FileSystem of the running Spark JVM, the same one that reads and writes ``sparkml/``.

Spark always reads and writes the ``sparkml/`` folder itself, at ``spark_uri()``.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.models._registry_hook import registry_for
from sparktrack.session import spark_session
from sparktrack.store import check_artifact_path
from sparktrack.tracking import LoggedModels, is_logged_model_id

if TYPE_CHECKING:
    from sparktrack.store import ArtifactRepository
    from sparktrack.tracking import TrackingClient

__all__ = [
    "HadoopLocation",
    "LocalLocation",
    "ModelLocation",
    "RunArtifactLocation",
    "SparkFolder",
    "location_for_path",
    "location_for_run",
    "location_of",
    "logged_model_id",
    "needs_client",
    "parse_runs_uri",
    "spark_folder",
]


def _join(root: str, rel: str) -> str:
    return f"{root.rstrip('/')}/{rel}" if rel else root


class ModelLocation(ABC):
    """A model folder somewhere; paths are relative to the folder, ``/``-separated.

    Public for sparktrack's own layers (the registry and serving look into folders).
    ``location_for_path`` gives the location of a path or URI. Methods of a location
    at a Hadoop URI (``HadoopLocation``) use the running Spark session, and start a
    local one when none runs (``sparktrack.session.spark_session``).
    """

    @abstractmethod
    def spark_uri(self, rel: str = "") -> str:
        """Give the URI Spark reads and writes for a path in the model folder.

        Args:
            rel: The path in the folder; empty for the folder itself.

        Returns:
            A Hadoop URI (``file://...`` for a local folder).
        """

    @abstractmethod
    def read_bytes(self, rel: str) -> bytes:
        """Read a file of the model folder.

        Args:
            rel: The file's path in the folder, e.g. ``MLmodel``.

        Returns:
            Its contents.

        Raises:
            NotFoundError: There is no such file.
        """

    @abstractmethod
    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a file of the model folder, replacing any file already there.

        Its parent folders are created as needed. In a local folder and in a run's
        artifacts the file is written aside and moved into place, so a reader never
        sees half of it; at a Hadoop URI it is written in place.

        Args:
            rel: The file's path in the folder.
            data: Its whole contents.

        Raises:
            StoreError: In a run's artifacts on a remote store: the file could not be
                written.
        """

    @abstractmethod
    def exists(self, rel: str) -> bool:
        """Tell whether a file or folder exists in the model folder.

        Args:
            rel: Its path in the folder.

        Returns:
            True when it exists.
        """

    @abstractmethod
    def list_files(self, rel: str) -> list[str]:
        """List the files under a folder of the model folder, at any depth.

        Args:
            rel: The folder's path in the model folder; empty for all of it.

        Returns:
            Their paths relative to the model folder (not to ``rel``), sorted; empty
            when ``rel`` does not exist.
        """

    def __str__(self) -> str:
        return self.spark_uri()


@dataclass(frozen=True)
class LocalLocation(ModelLocation):
    path: Path

    def spark_uri(self, rel: str = "") -> str:
        return "file://" + _join(str(self.path.resolve()), rel)

    def read_bytes(self, rel: str) -> bytes:
        target = self.path / rel
        if not target.is_file():
            raise NotFoundError(f"model file {str(target)!r} does not exist")
        return target.read_bytes()

    def write_bytes(self, rel: str, data: bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half an MLmodel.
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(target)

    def upload(self, local_file: str, rel: str) -> None:
        """Copy a file of this machine into the folder.

        Args:
            local_file: The file's path.
            rel: Where it goes in the folder.
        """
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local_file, target)

    def exists(self, rel: str) -> bool:
        return (self.path / rel).exists()

    def list_files(self, rel: str) -> list[str]:
        root = self.path / rel
        return sorted(p.relative_to(self.path).as_posix() for p in root.rglob("*") if p.is_file())

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class RunArtifactLocation(ModelLocation):
    """A model folder inside a run's artifacts on a remote store."""

    repo: ArtifactRepository
    experiment_id: str
    run_id: str
    prefix: str  # the model's artifact_path in the run

    def _rel(self, rel: str) -> str:
        return posixpath.join(self.prefix, rel) if rel else self.prefix

    def spark_uri(self, rel: str = "") -> str:
        return self.repo.uri_for(self.experiment_id, self.run_id, self._rel(rel))

    def read_bytes(self, rel: str) -> bytes:
        return self.repo.read_bytes(self.experiment_id, self.run_id, self._rel(rel))

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.repo.write_bytes(self.experiment_id, self.run_id, self._rel(rel), data)

    def upload_folder(self, local_dir: str, rel: str) -> None:
        """Copy a local folder, with everything in it, into the model folder.

        Args:
            local_dir: The folder on this machine.
            rel: Where its content goes in the model folder.
        """
        self.repo.upload(self.experiment_id, self.run_id, local_dir, self._rel(rel))

    def download_folder(self, rel: str, dst: str) -> Path:
        """Copy a folder of the model folder under a local folder.

        Args:
            rel: The folder's path in the model folder.
            dst: A local folder; the copy keeps its path in the run's artifacts there.

        Returns:
            The local path of the copy.
        """
        return self.repo.download(self.experiment_id, self.run_id, self._rel(rel), dst)

    def exists(self, rel: str) -> bool:
        # List the parent: works for files and folders alike, on every file system.
        target = self._rel(rel)
        parent = posixpath.dirname(target)
        listing = self.repo.list(self.experiment_id, self.run_id, parent or None)
        return any(info.path == target for info in listing)

    def list_files(self, rel: str) -> list[str]:
        files: list[str] = []
        pending = [self._rel(rel)]
        while pending:
            for info in self.repo.list(self.experiment_id, self.run_id, pending.pop()):
                if info.is_dir:
                    pending.append(info.path)
                else:
                    files.append(posixpath.relpath(info.path, self.prefix or "."))
        return sorted(files)

    def __str__(self) -> str:
        return f"runs:/{self.run_id}/{self.prefix}"


@dataclass(frozen=True)
class HadoopLocation(ModelLocation):
    """A model folder at a Hadoop URI, accessed through the active Spark JVM.

    Public for serving, which checks local folders before Spark starts and leaves
    these to the load.

    Args:
        uri: The folder's URI (``hdfs://``, ``s3a://``, ``abfss://``...).
    """

    uri: str

    def spark_uri(self, rel: str = "") -> str:
        return _join(self.uri, rel)

    def _fs_and_path(self, rel: str) -> tuple[Any, Any]:
        spark = spark_session()
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        path = jvm.org.apache.hadoop.fs.Path(self.spark_uri(rel))
        return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path

    def read_bytes(self, rel: str) -> bytes:
        fs, path = self._fs_and_path(rel)
        if not fs.isFile(path):
            raise NotFoundError(f"model file {self.spark_uri(rel)!r} does not exist")
        jvm = spark_session().sparkContext._jvm
        assert jvm is not None
        stream = fs.open(path)
        try:
            return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write_bytes(self, rel: str, data: bytes) -> None:
        fs, path = self._fs_and_path(rel)
        out = fs.create(path, True)
        try:
            out.write(bytearray(data))  # py4j passes a bytearray as a Java byte[]
        finally:
            out.close()

    def upload(self, local_file: str, rel: str) -> None:
        """Copy a file of the driver's local disk into the folder.

        Hadoop streams it: a big file never passes through Python.

        Args:
            local_file: The file's path on the driver.
            rel: Where it goes in the folder.
        """
        fs, path = self._fs_and_path(rel)
        jvm = spark_session().sparkContext._jvm
        assert jvm is not None
        source = jvm.org.apache.hadoop.fs.Path(Path(local_file).absolute().as_uri())
        fs.copyFromLocalFile(False, True, source, path)  # keep the source, overwrite

    def exists(self, rel: str) -> bool:
        fs, path = self._fs_and_path(rel)
        return bool(fs.exists(path))

    def list_files(self, rel: str) -> list[str]:
        fs, root = self._fs_and_path("")
        _, target = self._fs_and_path(rel)
        if not fs.exists(target):
            return []
        # Qualified paths on both sides: Hadoop spells file:///x as file:/x.
        prefix = fs.makeQualified(root).toString().rstrip("/") + "/"
        files = []
        listing = fs.listFiles(target, True)
        while listing.hasNext():
            name = listing.next().getPath().toString()
            if name.startswith(prefix):
                files.append(name[len(prefix) :])
        return sorted(files)


SparkFolder = LocalLocation | HadoopLocation


def spark_folder(uri: str) -> SparkFolder:
    """The folder at a URI Spark writes (``spark_uri()``).

    Local files for ``file:`` URIs (plain file I/O, no JVM round trips), else the
    Hadoop file system.
    """
    if uri.startswith("file:"):
        # The inverse of LocalLocation.spark_uri (file:// + the path, not %-quoted).
        return LocalLocation(Path("/" + uri[len("file:") :].lstrip("/")))
    return HadoopLocation(uri.rstrip("/"))


def parse_runs_uri(model_uri: str) -> tuple[str, str]:
    """The run and artifact path of a ``runs:/`` URI (public for the registry).

    Args:
        model_uri: ``runs:/<run_id>/<artifact_path>``.

    Returns:
        ``(run_id, normalised artifact path)``.

    Raises:
        InvalidInputError: The URI names no run, or its path leaves the run's artifacts.
    """
    rest = model_uri[len("runs:") :].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidInputError(
            f"model URI {model_uri!r} names no run; write runs:/<run_id>/<artifact_path>"
        )
    return run_id, check_artifact_path(path)


def location_for_run(client: TrackingClient, run_id: str, artifact_path: str) -> ModelLocation:
    """The model folder ``artifact_path`` inside run ``run_id``'s artifacts."""
    experiment_id = client.experiment_of(run_id)
    repo = client.artifacts
    local = repo.local_path_for(experiment_id, run_id, artifact_path)
    if local is not None:
        # A local store: write straight into the folder, no copies.
        return LocalLocation(Path(local))
    return RunArtifactLocation(repo, experiment_id, run_id, artifact_path)


def location_for_path(path: str | os.PathLike[str]) -> ModelLocation:
    """The model folder at a path (public for the registry).

    Args:
        path: A local folder (a path or a ``file:`` URI) or a Hadoop URI (``hdfs://``,
            ``s3a://``, ...).

    Returns:
        A local location, or one Spark's Hadoop file system reads and writes.

    Raises:
        InvalidInputError: The path is empty, or is a ``runs:/`` / ``models:/`` URI.
    """
    text = os.fspath(path)
    if not text.strip():
        raise InvalidInputError("model path is empty; give a folder path or a Hadoop URI")
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return LocalLocation(Path(parsed.path).expanduser().absolute())
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return LocalLocation(Path(text).expanduser().absolute())
    if parsed.scheme in ("runs", "models"):
        raise InvalidInputError(
            f"{text!r} is a model URI, not a folder; use log_model to save into a run"
        )
    return HadoopLocation(text.rstrip("/"))


def needs_client(model_uri: str | os.PathLike[str]) -> bool:
    """Whether ``model_uri`` points into a tracking store (``runs:/``, ``models:/``)."""
    return isinstance(model_uri, str) and model_uri.startswith(("runs:", "models:"))


def location_of(model_uri: str | os.PathLike[str], client: TrackingClient | None) -> ModelLocation:
    """Where a model URI points to.

    ``runs:/<run_id>/<path>``, ``models:/...``, a local path or a Hadoop URI
    (``models:/`` URIs are resolved by the registry to their version's source now).
    ``client`` is the store of ``runs:/`` and ``models:/`` URIs.
    """
    if not isinstance(model_uri, str | os.PathLike):
        raise InvalidInputError(f"model_uri must be a string, got {type(model_uri).__name__}")
    text = os.fspath(model_uri)
    if needs_client(text) and client is None:
        raise InvalidInputError(
            f"model URI {text!r} names a run or a registered model: pass the "
            "TrackingClient of its store"
        )
    if text.startswith("runs:"):
        assert client is not None
        run_id, artifact_path = parse_runs_uri(text)
        location = location_for_run(client, run_id, artifact_path)
        if "/" in artifact_path or location.exists("MLmodel"):
            return location
        # MLflow 3 logs a model to a folder of its own: runs:/<run_id>/<name> is it.
        of_run = LoggedModels(client).of_run(run_id, artifact_path)
        return location if of_run is None else location_for_path(of_run.artifact_location)
    if text.startswith("models:"):
        assert client is not None
        logged = logged_model_id(text)
        if logged is not None:
            return location_for_path(LoggedModels(client).get(logged).artifact_location)
        # The version's source is a runs:/ URI, models:/<model_id>, a folder or a Hadoop URI.
        return location_of(registry_for(client).resolve(text).source, client)
    return location_for_path(text)


def logged_model_id(model_uri: str) -> str | None:
    """The logged model a ``models:/<model_id>`` URI names (MLflow 3), else None.

    ``models:/m-<32 hex digits>`` has no ``/<version>`` or ``@<alias>``, which every
    ``models:/`` URI of a registered model has. Public for the registry and the server.

    Args:
        model_uri: Any model URI.

    Returns:
        The logged model's id, or None when the URI names none.
    """
    if not model_uri.startswith("models:/"):
        return None
    rest = model_uri[len("models:/") :].strip("/")
    return rest if is_logged_model_id(rest) else None
