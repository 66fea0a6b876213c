"""Reading a Spark ML save without Spark: each stage's metadata and data as plain values.

Spark ML saves a fitted stage as a folder::

    metadata/part-00000     one JSON line: class, uid, paramMap, defaultParamMap, ...
    data/part-*.parquet     the fitted values (coefficients, labels, tree nodes, ...)
    treesMetadata/...       tree ensembles: one row per tree (its params and weight)

and a PipelineModel as its own metadata (``stageUids``) plus ``stages/<index>_<uid>/``,
one such folder per stage (a stage may itself be a PipelineModel). This module reads
those files through a :class:`~sparktrack.models._uri.ModelLocation` with pyarrow: no
JVM, no pickles. The local scorer compiles what it reads into numpy stages.

Vectors and matrices come out of Parquet in Spark's storage form (structs of ``type``,
``size``, ``indices``, ``values``...): :func:`vector` and :func:`matrix` turn them into
numpy arrays.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sparktrack.errors import InvalidInputError
from sparktrack.models._uri import ModelLocation

__all__ = [
    "PIPELINE_MODEL",
    "SavedStage",
    "matrix",
    "read_saved_model",
    "vector",
]

PIPELINE_MODEL = "org.apache.spark.ml.PipelineModel"
# pyspark writes a pipeline holding a pipeline with its own writer, under its Python
# class; the layout is the same (stageUids, stages/<index>_<uid>/).
_PIPELINE_CLASSES = frozenset({PIPELINE_MODEL, "pyspark.ml.pipeline.PipelineModel"})
_METADATA = "metadata/part-00000"
_STAGE_FOLDER = re.compile(r"^(\d+)_(.+)$")


@dataclass(frozen=True)
class SavedStage:
    """One fitted stage as Spark ML saved it.

    Attributes:
        class_name: The JVM class, e.g. ``org.apache.spark.ml.feature.VectorAssembler``.
        uid: The stage's uid.
        params: Every param with a value: the defaults overlaid with the set params,
            decoded from JSON as Spark encoded them.
        set_params: The names of the params the user set (the rest are defaults).
        spark_version: The Spark version that saved it.
        metadata: The whole metadata line, decoded (ensembles add ``numFeatures``,
            ``numClasses``, ``numTrees`` beside the params).
        location: The model folder it was read from.
        folder: The stage's folder in ``location``.
        files: Every file of the save (paths relative to ``location``).
    """

    class_name: str
    uid: str
    params: Mapping[str, Any]
    set_params: frozenset[str]
    spark_version: str
    metadata: Mapping[str, Any] = field(repr=False, compare=False)
    location: ModelLocation = field(repr=False, compare=False)
    folder: str = field(repr=False)
    files: tuple[str, ...] = field(repr=False, compare=False)
    _tables: dict[str, pa.Table] = field(default_factory=dict, repr=False, compare=False)

    @property
    def short_name(self) -> str:
        """The class without its package, e.g. ``VectorAssembler``."""
        return self.class_name.rsplit(".", 1)[-1]

    @property
    def label(self) -> str:
        """The class and uid, for messages: ``VectorAssembler (VectorAssembler_4e1f)``."""
        return f"{self.short_name} ({self.uid})"

    def param(self, name: str, default: Any = None) -> Any:
        """A param's value (set, else Spark's default), or ``default`` when it has none."""
        return self.params.get(name, default)

    def table(self, name: str = "data") -> pa.Table:
        """The Parquet files of a subfolder, as one table.

        Args:
            name: The subfolder: ``data`` (the fitted values) or another Spark wrote,
                e.g. ``treesMetadata``.

        Raises:
            InvalidInputError: The folder has no Parquet files there (a damaged save).
        """
        if name not in self._tables:
            prefix = posixpath.join(self.folder, name) + "/"
            parts = [
                f
                for f in self.files
                if f.startswith(prefix) and f.endswith(".parquet") and "/." not in f
            ]
            if not parts:
                raise InvalidInputError(
                    f"the saved {self.label} at {self.location}/{self.folder} has no Parquet "
                    f"files in {name}/; the model folder is damaged or incomplete"
                )
            tables = [pq.read_table(io.BytesIO(self.location.read_bytes(p))) for p in parts]
            self._tables[name] = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        return self._tables[name]

    def rows(self, name: str = "data") -> list[dict[str, Any]]:
        """The rows of :meth:`table` as Python dicts."""
        return self.table(name).to_pylist()


def vector(value: Mapping[str, Any] | None) -> np.ndarray:
    """A vector in Spark's storage form (``type`` 0 sparse, 1 dense) as a float64 array."""
    if value is None:
        raise InvalidInputError("a saved vector is null; the model folder is damaged")
    values = np.asarray(value["values"], dtype=np.float64)
    if value["type"] == 1:
        return values
    dense = np.zeros(int(value["size"]))
    dense[np.asarray(value["indices"], dtype=np.int64)] = values
    return dense


def matrix(value: Mapping[str, Any] | None) -> np.ndarray:
    """A matrix in Spark's storage form (``type`` 0 sparse CSC, 1 dense) as rows x cols."""
    if value is None:
        raise InvalidInputError("a saved matrix is null; the model folder is damaged")
    rows, cols = int(value["numRows"]), int(value["numCols"])
    transposed = bool(value["isTransposed"])
    values = np.asarray(value["values"], dtype=np.float64)
    if value["type"] == 1:
        # Column-major unless transposed (then row-major).
        return values.reshape((rows, cols)) if transposed else values.reshape((cols, rows)).T
    # Sparse: compressed columns (compressed rows when transposed).
    dense = np.zeros((rows, cols))
    pointers = np.asarray(value["colPtrs"], dtype=np.int64)
    indices = np.asarray(value["rowIndices"], dtype=np.int64)
    for outer in range(len(pointers) - 1):
        for k in range(pointers[outer], pointers[outer + 1]):
            if transposed:
                dense[outer, indices[k]] = values[k]
            else:
                dense[indices[k], outer] = values[k]
    return dense


def _metadata(location: ModelLocation, folder: str) -> dict[str, Any]:
    rel = posixpath.join(folder, _METADATA) if folder else _METADATA
    text = location.read_bytes(rel).decode("utf-8").strip()
    try:
        decoded = json.loads(text.splitlines()[0])
    except (json.JSONDecodeError, IndexError) as exc:
        raise InvalidInputError(
            f"{location}/{rel} is not Spark ML metadata JSON ({exc}); the model folder is damaged"
        ) from exc
    if not isinstance(decoded, dict) or not isinstance(decoded.get("class"), str):
        raise InvalidInputError(f"{location}/{rel} names no class; the model folder is damaged")
    return decoded


def _stage_folders(folder: str, files: tuple[str, ...]) -> list[str]:
    """The ``stages/<index>_<uid>`` folders of a pipeline folder, in index order."""
    prefix = posixpath.join(folder, "stages") + "/"
    found: dict[int, str] = {}
    for f in files:
        if f.startswith(prefix):
            name = f[len(prefix) :].split("/", 1)[0]
            match = _STAGE_FOLDER.match(name)
            if match:
                found[int(match.group(1))] = prefix + name
    return [found[i] for i in sorted(found)]


def _read(location: ModelLocation, folder: str, files: tuple[str, ...]) -> list[SavedStage]:
    meta = _metadata(location, folder)
    params = dict(meta.get("defaultParamMap") or {})
    params.update(meta.get("paramMap") or {})
    if meta["class"] in _PIPELINE_CLASSES:
        stages: list[SavedStage] = []
        folders = _stage_folders(folder, files)
        uids = params.get("stageUids")
        if isinstance(uids, list) and len(uids) != len(folders):
            raise InvalidInputError(
                f"the pipeline at {location}/{folder} lists {len(uids)} stages but has "
                f"{len(folders)} stage folders; the model folder is incomplete"
            )
        for stage_folder in folders:
            stages.extend(_read(location, stage_folder, files))
        return stages
    stage = SavedStage(
        class_name=meta["class"],
        uid=str(meta.get("uid", "")),
        params=params,
        set_params=frozenset(meta.get("paramMap") or {}),
        spark_version=str(meta.get("sparkVersion", "")),
        metadata=meta,
        location=location,
        folder=folder,
        files=files,
    )
    return [stage]


def read_saved_model(location: ModelLocation, folder: str) -> list[SavedStage]:
    """The stages of the Spark ML save in ``folder``, pipelines flattened, in order.

    Nothing but the metadata is read here; each stage's Parquet data is read when a
    compiler asks for it.

    Args:
        location: The model folder.
        folder: The save's path in it, e.g. ``sparkml``.

    Returns:
        The stages a ``transform`` applies, in its order.

    Raises:
        NotFoundError: The folder holds no Spark ML metadata.
        InvalidInputError: The metadata is damaged, or a pipeline lacks stage folders.
    """
    files = tuple(location.list_files(folder))
    return _read(location, folder, files)
