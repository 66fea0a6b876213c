"""The ``sparkml/`` folder of a model: Spark ML's own save and load, and what it may name.

As in MLflow, a single model is saved as a one-stage PipelineModel (MLflow's loader
only knows ``PipelineModel.load``); the flavor's ``wrapped_model_class`` remembers it,
so loading hands back the model that was logged.

Loading never unpickles and never imports a class outside ``pyspark.ml`` and
Sparkling Water's ``ai.h2o.sparkling``: neither the ``model_class`` in MLmodel nor
the stage classes in ``sparkml/``'s metadata, which pyspark would otherwise import
by name.

pyspark is imported inside the functions that need it: importing sparktrack must not
load it.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sparktrack.errors import InvalidInputError, NotFoundError, StoreError
from sparktrack.models._h2o_stage import is_mojo_model, save_mojo_model
from sparktrack.models._sparkml_metadata import write_metadata
from sparktrack.models._uri import (
    LocalLocation,
    ModelLocation,
    RunArtifactLocation,
    spark_folder,
)
from sparktrack.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "PIPELINE_MODEL_CLASS",
    "SPARKML_DIR",
    "as_pipeline",
    "check_model_class",
    "check_spark_save",
    "load_spark_model",
    "qualified_name",
    "write_sparkml",
]

SPARKML_DIR = "sparkml"
PIPELINE_MODEL_CLASS = "pyspark.ml.pipeline.PipelineModel"

# Python classes a model folder may name: Spark ML's own and Sparkling Water's.
_ALLOWED_PYTHON_PREFIXES = ("pyspark.ml.", "ai.h2o.sparkling.")
# Spark ML's connect models load with cloudpickle-backed helpers: refused.
_REFUSED_PREFIXES = ("pyspark.ml.connect.",)
# Classes the JVM side of sparkml/ metadata may name (pyspark maps them to Python names).
_ALLOWED_METADATA_PREFIXES = ("org.apache.spark.ml.", *_ALLOWED_PYTHON_PREFIXES)
_DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def qualified_name(obj: Any) -> str:
    """``module.Class`` of an object, as MLmodel files name model classes."""
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


# -- classes a model folder may name ----------------------------------------------------
def _check_class_name(name: Any, source: str) -> str:
    """``name`` when it is a class name a model folder may give, without importing it."""
    text = str(name)
    allowed = isinstance(name, str) and _DOTTED_NAME.match(text) is not None
    if not allowed or not text.startswith(_ALLOWED_PYTHON_PREFIXES):
        raise InvalidInputError(
            f"{source} names model_class {text!r}, which sparktrack refuses to load: only "
            f"classes under {list(_ALLOWED_PYTHON_PREFIXES)} are imported, so a model "
            "folder cannot run arbitrary code. Check where this model folder came from."
        )
    if text.startswith(_REFUSED_PREFIXES):
        raise InvalidInputError(
            f"{source} names model_class {text!r}: Spark Connect ML models are not "
            "supported (they load through pickled helpers); save a pyspark.ml model"
        )
    return text


def check_model_class(name: Any, source: str) -> type:
    """The pyspark.ml / Sparkling Water model class ``name``; refuse anything else.

    Only a dotted name under an allowed namespace is imported, and only a
    Transformer with a Spark ML reader is accepted: ``os.system`` or a pickle loader
    in a tampered MLmodel never runs.
    """
    from pyspark.ml import Transformer
    from pyspark.ml.util import MLReadable

    text = _check_class_name(name, source)
    module_name, _, class_name = text.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(
            f"{source} names model_class {text!r}, but module {module_name!r} cannot be "
            f"imported ({exc}); install the package that provides it"
        ) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Transformer) and issubclass(cls, MLReadable)):
        raise InvalidInputError(
            f"{source} names model_class {text!r}, which is not a loadable pyspark.ml "
            "Transformer (MLReadable); the model folder is damaged or not a Spark ML model"
        )
    return cls


def _check_sparkml_metadata(location: ModelLocation) -> None:
    """Refuse a ``sparkml/`` tree whose metadata names classes outside Spark ML / H2O.

    pyspark imports the Python class each stage's metadata names (Python-written
    pipelines) and the JVM loads the Java class: both must stay in known namespaces.
    """
    files = location.list_files(SPARKML_DIR)
    metadata = [f for f in files if re.search(r"(^|/)metadata/part-\d+$", f)]
    if not metadata:
        raise NotFoundError(
            f"model folder {location} has no Spark ML model under {SPARKML_DIR}/ "
            "(no metadata/part-00000); it was not saved completely"
        )
    for rel in metadata:
        for line in location.read_bytes(rel).decode("utf-8").splitlines():
            if not line.strip():
                continue
            try:
                name = json.loads(line).get("class")
            except (json.JSONDecodeError, AttributeError) as exc:
                raise InvalidInputError(
                    f"{location}/{rel} is not Spark ML metadata JSON: {exc}"
                ) from exc
            if not (isinstance(name, str) and name.startswith(_ALLOWED_METADATA_PREFIXES)):
                raise InvalidInputError(
                    f"{location}/{rel} names class {name!r}, which sparktrack refuses to "
                    f"load: only classes under {list(_ALLOWED_METADATA_PREFIXES)} are "
                    "allowed in a Spark ML model. Check where this model folder came from."
                )


# -- Spark ML's own save and load ------------------------------------------------------
def _on_cluster(spark: SparkSession) -> bool:
    return not str(spark.sparkContext.master or "local").startswith("local")


def _hadoop_fs_call(spark: SparkSession, method: str, src: str, dst: str) -> None:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path
    fs = hadoop_path(src if method == "copyToLocalFile" else dst).getFileSystem(
        spark.sparkContext._jsc.hadoopConfiguration()
    )
    getattr(fs, method)(method == "copyToLocalFile", hadoop_path(src), hadoop_path(dst))


def _staged_through_the_store(spark: SparkSession, location: ModelLocation) -> bool:
    """Whether Spark ML's files go through a local folder and the store's own file system.

    A run's artifacts on an object store that the session has no Hadoop file system
    for (``s3a://`` needs the hadoop-aws jars, which pip's pyspark lacks), in local
    mode, where Spark's executors share this machine's disk: the store's Arrow file
    system, which logs every other artifact, carries them. A session that can reach
    the store (a cluster's) reads and writes there itself.
    """
    if not isinstance(location, RunArtifactLocation) or _on_cluster(spark):
        return False
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    scheme = location.spark_uri().split("://", 1)[0]
    try:
        jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(
            scheme, spark.sparkContext._jsc.hadoopConfiguration()
        )
    except Exception:  # no file system for the scheme, or its class is not on the classpath
        return True
    return False


def write_sparkml(pipeline: Any, location: ModelLocation) -> None:
    """Save ``pipeline`` with Spark ML's writer into ``location``'s ``sparkml/``.

    Raises:
        StoreError: Spark could not save it there.
    """
    spark = spark_session()
    target = location.spark_uri(SPARKML_DIR)
    try:
        if _staged_through_the_store(spark, location):
            assert isinstance(location, RunArtifactLocation)
            with tempfile.TemporaryDirectory(prefix="sparktrack-model-") as staging:
                saved = os.path.join(staging, SPARKML_DIR)
                _save_pipeline_model(pipeline, "file://" + saved, spark.version)
                location.upload_folder(saved, SPARKML_DIR)
        elif isinstance(location, LocalLocation) and _on_cluster(spark):
            # Executors write Spark ML's files, and a driver-local folder is not theirs:
            # save on the cluster's default file system, then copy down (as MLflow does).
            staging = f"/tmp/sparktrack-models/{uuid.uuid4().hex}"
            _save_pipeline_model(pipeline, staging, spark.version)
            _hadoop_fs_call(spark, "copyToLocalFile", staging, target)
        else:
            _save_pipeline_model(pipeline, target, spark.version)
    except Exception as exc:
        raise StoreError(
            f"Spark could not save the model to {target!r}: {exc}. Every stage must be "
            "MLWritable, and the Spark session must be able to write there."
        ) from exc


# Stages of a pipeline saved at once (see _save_pipeline_model).
_SAVE_THREADS = 4


def _save_pipeline_model(pipeline: Any, uri: str, spark_version: str) -> None:
    """Spark ML's own layout of a PipelineModel at ``uri``, without Spark jobs if it can.

    Each stage is saved into ``stages/<index>_<uid>`` as Spark's pipeline writer does:
    by its own writer, except Sparkling Water's MOJO models, which sparktrack writes in
    Sparkling Water's layout without the views its writer spends seconds on (see
    ``_h2o_stage``). The pipeline's metadata (its uid and stage uids, one JSON line) is
    written directly, where Spark's writer runs a job for it; last, so a folder with
    pipeline metadata has all its stages. Pipelines with Python-only stages go through
    pyspark's writer, which records them differently.
    """
    from pyspark.ml.pipeline import PipelineSharedReadWrite

    stages = list(pipeline.stages)
    if not PipelineSharedReadWrite.checkStagesForJava(stages):
        pipeline.write().overwrite().save(uri)
        return
    digits = len(str(len(stages)))  # Spark pads the index to the stage count's width

    def save_stage(index: int) -> None:
        stage = stages[index]
        stage_uri = f"{uri}/stages/{index:0{digits}d}_{stage.uid}"
        if is_mojo_model(stage):
            save_mojo_model(stage, stage_uri, spark_version)
        else:
            stage.write().overwrite().save(stage_uri)

    # Each stage's writer runs one or two small Spark jobs (metadata, then data), most
    # of whose time is job setup and the output committer, not work: the stages are
    # saved side by side, which takes the time of the slowest instead of their sum.
    with ThreadPoolExecutor(min(len(stages), _SAVE_THREADS) or 1) as pool:
        for saved in [pool.submit(save_stage, index) for index in range(len(stages))]:
            saved.result()  # the first failure raises, once every save has ended
    write_metadata(
        spark_folder(uri),
        class_name="org.apache.spark.ml.PipelineModel",
        uid=pipeline.uid,
        spark_version=spark_version,
        params={"stageUids": json.dumps([stage.uid for stage in stages])},
        defaults={},
    )


def check_spark_save(location: ModelLocation, flavor: dict[str, Any], source: str) -> str:
    """The Python class name of the model in ``sparkml/``, after checking every class it names.

    Reads only the metadata files and imports nothing: no pyspark and no JVM for a
    local folder or a run's artifacts (loading imports the class and checks it again).

    Raises:
        NotFoundError: ``sparkml/`` holds no Spark ML metadata.
        InvalidInputError: The flavor points elsewhere, or a class is refused.
    """
    data_dir = flavor.get("model_data", SPARKML_DIR)
    if data_dir != SPARKML_DIR:
        raise InvalidInputError(
            f"{source} says the Spark model is in {data_dir!r}; sparktrack loads only "
            f"{SPARKML_DIR!r}, as MLflow writes it"
        )
    name = flavor.get("model_class") or PIPELINE_MODEL_CLASS
    _check_class_name(name, source)
    _check_sparkml_metadata(location)
    return str(name)


def load_spark_model(
    location: ModelLocation,
    flavor: dict[str, Any],
    model_class: str,
    source: str,
    session: Callable[[], SparkSession] = spark_session,
) -> Any:
    """The pyspark.ml model in ``sparkml/``, whose save ``check_spark_save`` checked.

    ``model_class`` is the name ``check_spark_save`` returned; ``session`` gives the
    SparkSession that loads it (by default the running one, else a new local one).
    """
    cls = check_model_class(model_class, source)
    spark = session()
    uri = location.spark_uri(SPARKML_DIR)
    if _staged_through_the_store(spark, location):
        assert isinstance(location, RunArtifactLocation)
        # Kept until the process exits: some models (ALS, FPGrowth) read their data
        # lazily, as DataFrames over these files.
        local_copy = tempfile.mkdtemp(prefix="sparktrack-model-")
        atexit.register(shutil.rmtree, local_copy, ignore_errors=True)
        uri = "file://" + str(location.download_folder(SPARKML_DIR, local_copy))
    elif isinstance(location, LocalLocation) and _on_cluster(spark):
        staging = f"/tmp/sparktrack-models/{uuid.uuid4().hex}"
        _hadoop_fs_call(spark, "copyFromLocalFile", uri, staging)
        uri = staging
    try:
        model = cls.load(uri)  # type: ignore[attr-defined]
    except Exception as exc:
        raise StoreError(f"Spark could not load the model at {uri!r}: {exc}") from exc
    return _unwrap(model, flavor.get("wrapped_model_class"))


def _unwrap(model: Any, wrapped_class: Any) -> Any:
    """The single model that save wrapped in a one-stage PipelineModel, if it did."""
    from pyspark.ml import PipelineModel

    if wrapped_class and isinstance(model, PipelineModel) and len(model.stages) == 1:
        stage = model.stages[0]
        if qualified_name(stage) == wrapped_class:
            return stage
    return model


def as_pipeline(spark_model: Any) -> tuple[Any, str | None]:
    """(a PipelineModel to save, the wrapped single model's class or None)."""
    from pyspark.ml import PipelineModel, Transformer
    from pyspark.ml.util import MLWritable

    if not (isinstance(spark_model, Transformer) and isinstance(spark_model, MLWritable)):
        raise InvalidInputError(
            f"cannot save a {type(spark_model).__name__} as a Spark model: pass a fitted "
            "pyspark.ml Model or Transformer that Spark ML can write (MLWritable), "
            "e.g. a PipelineModel"
        )
    if qualified_name(spark_model).startswith(_REFUSED_PREFIXES):
        raise InvalidInputError("Spark Connect ML models cannot be saved as a Spark model")
    if isinstance(spark_model, PipelineModel):
        return spark_model, None
    # MLflow's loader only knows PipelineModel.load: save one stage, remember the class.
    return PipelineModel([spark_model]), qualified_name(spark_model)
