"""The ``spark`` flavor: save and log pyspark.ml models the way MLflow lays them out.

A model folder::

    MLmodel                     flavors spark + python_function, signature, ...
    sparkml/                    Spark ML's native save of a PipelineModel
    requirements.txt  python_env.yaml  conda.yaml
    input_example.json  serving_input_example.json     (with an input example)

so ``mlflow.spark.load_model`` and ``mlflow.pyfunc.load_model`` load it. As in MLflow,
a single model is saved as a one-stage PipelineModel (MLflow's loader only knows
``PipelineModel.load``); the flavor's ``wrapped_model_class`` remembers it, so
sparktrack's loader hands back the model that was logged.

Loading never unpickles and never imports a class outside ``pyspark.ml`` and
Sparkling Water's ``ai.h2o.sparkling``: neither the ``model_class`` in MLmodel nor
the stage classes in ``sparkml/``'s metadata, which pyspark would otherwise import
by name.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sparktrack.errors import InvalidInputError, NotFoundError, StoreError
from sparktrack.models import _h2o_stage
from sparktrack.models._mlmodel import MLMODEL_FILE, Model
from sparktrack.models._requirements import (
    CONDA_FILE,
    PYTHON_ENV_FILE,
    environment_files,
)
from sparktrack.models._signature import ModelSignature, signature_from_example
from sparktrack.models._sparkml_metadata import write_metadata
from sparktrack.models._uri import (
    LocalLocation,
    ModelLocation,
    location_for_path,
    location_for_run,
    spark_folder,
)
from sparktrack.session import spark_session
from sparktrack.store._artifacts import check_artifact_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparktrack.tracking import TrackingClient

__all__ = [
    "FLAVOR_NAME",
    "LOGGED_MODELS_TAG",
    "SPARKML_DIR",
    "ModelInfo",
    "check_model_class",
    "load_spark_model",
    "log_model",
    "save_model",
]

FLAVOR_NAME = "spark"
PYFUNC_FLAVOR = "python_function"
SPARKML_DIR = "sparkml"
LOGGED_MODELS_TAG = "mlflow.log-model.history"
PIPELINE_MODEL_CLASS = "pyspark.ml.pipeline.PipelineModel"
EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"

# Python classes a model folder may name: Spark ML's own and Sparkling Water's.
_ALLOWED_PYTHON_PREFIXES = ("pyspark.ml.", "ai.h2o.sparkling.")
# Spark ML's connect models load with cloudpickle-backed helpers: refused.
_REFUSED_PREFIXES = ("pyspark.ml.connect.",)
# Classes the JVM side of sparkml/ metadata may name (pyspark maps them to Python names).
_ALLOWED_METADATA_PREFIXES = ("org.apache.spark.ml.", *_ALLOWED_PYTHON_PREFIXES)
_DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` logged, and the URI that loads it."""

    model_uri: str
    run_id: str
    artifact_path: str
    flavors: dict[str, dict[str, Any]]
    signature: ModelSignature | None
    utc_time_created: str
    model_uuid: str
    registered_model_version: int | None = None


def _qualified_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


# -- classes a model folder may name ----------------------------------------------------
def check_model_class(name: Any, source: str) -> type:
    """The pyspark.ml / Sparkling Water model class ``name``; refuse anything else.

    Only a dotted name under an allowed namespace is imported, and only a
    Transformer with a Spark ML reader is accepted: ``os.system`` or a pickle loader
    in a tampered MLmodel never runs.
    """
    from pyspark.ml import Transformer
    from pyspark.ml.util import MLReadable

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


def _write_sparkml(pipeline: Any, location: ModelLocation) -> None:
    spark = spark_session()
    target = location.spark_uri(SPARKML_DIR)
    try:
        if isinstance(location, LocalLocation) and _on_cluster(spark):
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


def _save_pipeline_model(pipeline: Any, uri: str, spark_version: str) -> None:
    """Spark ML's own layout of a PipelineModel at ``uri``, without Spark jobs where the
    layout allows.

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
    for index, stage in enumerate(stages):
        stage_uri = f"{uri}/stages/{index:0{digits}d}_{stage.uid}"
        if _h2o_stage.is_mojo_model(stage):
            _h2o_stage.save_mojo_model(stage, stage_uri, spark_version)
        else:
            stage.write().overwrite().save(stage_uri)
    write_metadata(
        spark_folder(uri),
        class_name="org.apache.spark.ml.PipelineModel",
        uid=pipeline.uid,
        spark_version=spark_version,
        params={"stageUids": json.dumps([stage.uid for stage in stages])},
        defaults={},
    )


def load_spark_model(location: ModelLocation, flavor: dict[str, Any], source: str) -> Any:
    """The pyspark.ml model in ``sparkml/``, after checking every class it names."""
    data_dir = flavor.get("model_data", SPARKML_DIR)
    if data_dir != SPARKML_DIR:
        raise InvalidInputError(
            f"{source} says the Spark model is in {data_dir!r}; sparktrack loads only "
            f"{SPARKML_DIR!r}, as MLflow writes it"
        )
    cls = check_model_class(flavor.get("model_class") or PIPELINE_MODEL_CLASS, source)
    _check_sparkml_metadata(location)
    spark = spark_session()
    uri = location.spark_uri(SPARKML_DIR)
    if isinstance(location, LocalLocation) and _on_cluster(spark):
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
        if _qualified_name(stage) == wrapped_class:
            return stage
    return model


def _as_pipeline(spark_model: Any) -> tuple[Any, str | None]:
    """(a PipelineModel to save, the wrapped single model's class or None)."""
    from pyspark.ml import PipelineModel, Transformer
    from pyspark.ml.util import MLWritable

    if not (isinstance(spark_model, Transformer) and isinstance(spark_model, MLWritable)):
        raise InvalidInputError(
            f"cannot save a {type(spark_model).__name__} as a Spark model: pass a fitted "
            "pyspark.ml Model or Transformer that Spark ML can write (MLWritable), "
            "e.g. a PipelineModel"
        )
    if _qualified_name(spark_model).startswith(_REFUSED_PREFIXES):
        raise InvalidInputError("Spark Connect ML models cannot be saved as a Spark model")
    if isinstance(spark_model, PipelineModel):
        return spark_model, None
    # MLflow's loader only knows PipelineModel.load: save one stage, remember the class.
    return PipelineModel([spark_model]), _qualified_name(spark_model)


# -- the folder -------------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if hasattr(value, "toArray"):  # pyspark.ml.linalg vectors
        return [float(x) for x in value.toArray()]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _example_files(input_example: Any) -> tuple[dict[str, bytes], dict[str, Any]]:
    """input_example.json (pandas split orient, no index) and MLflow's serving example."""
    if not isinstance(input_example, pd.DataFrame):
        raise InvalidInputError(
            f"input_example must be a pandas DataFrame, got {type(input_example).__name__}; "
            "convert a few rows with spark_df.limit(5).toPandas()"
        )
    frame = input_example.astype(object)
    frame = frame.where(input_example.notna(), None)  # NaN -> null, as MLflow writes it
    split = {
        "columns": [str(c) for c in frame.columns],
        "data": [list(row) for row in frame.itertuples(index=False, name=None)],
    }
    files = {
        EXAMPLE_FILE: json.dumps(split, default=_json_default).encode(),
        SERVING_EXAMPLE_FILE: json.dumps(
            {"dataframe_split": split}, default=_json_default, indent=2
        ).encode(),
    }
    info = {
        "artifact_path": EXAMPLE_FILE,
        "type": "dataframe",
        "pandas_orient": "split",
        "serving_input_path": SERVING_EXAMPLE_FILE,
    }
    return files, info


def _flavors(model_class: str, wrapped_class: str | None) -> dict[str, dict[str, Any]]:
    import platform

    import pyspark

    spark: dict[str, Any] = {
        "pyspark_version": pyspark.__version__,
        "model_data": SPARKML_DIR,
        "model_class": model_class,
        "code": None,
    }
    if wrapped_class is not None:
        spark["wrapped_model_class"] = wrapped_class
    return {
        FLAVOR_NAME: spark,
        PYFUNC_FLAVOR: {
            "loader_module": "mlflow.spark",
            "python_version": platform.python_version(),
            "data": SPARKML_DIR,
            "env": {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE},
        },
    }


def _save(
    spark_model: Any,
    location: ModelLocation,
    *,
    run_id: str | None,
    artifact_path: str | None,
    input_example: pd.DataFrame | None,
    signature: ModelSignature | None,
) -> Model:
    pipeline, wrapped_class = _as_pipeline(spark_model)
    if signature is not None and not isinstance(signature, ModelSignature):
        raise InvalidInputError(
            f"signature must be a sparktrack.models.ModelSignature, got "
            f"{type(signature).__name__}; build one with infer_signature()"
        )
    if location.exists(MLMODEL_FILE) or location.exists(SPARKML_DIR):
        raise InvalidInputError(
            f"{location} already holds a model; save to a new folder, or log under "
            "another artifact_path"
        )
    example_files, example_info = (
        ({}, None) if input_example is None else _example_files(input_example)
    )
    if signature is None and input_example is not None:
        # As MLflow: the example's column types make the signature.
        signature = signature_from_example(spark_model, input_example)
    model = Model(
        flavors=_flavors(_qualified_name(pipeline), wrapped_class),
        artifact_path=artifact_path,
        run_id=run_id,
        signature=signature,
        saved_input_example_info=example_info,
    )
    _write_sparkml(pipeline, location)
    from sparktrack.models import _h2o_flavor

    h2o = _h2o_flavor.h2o_mojo_flavor(pipeline, location, SPARKML_DIR)
    if h2o is not None:  # Sparkling Water: point at the MOJO the save wrote
        model.flavors[_h2o_flavor.FLAVOR_NAME] = h2o
    requirements_class = h2o["model_class"] if h2o else wrapped_class
    files = {
        **example_files,
        **environment_files(requirements_class or _qualified_name(pipeline)),
    }
    for name, data in files.items():
        location.write_bytes(name, data)
    # MLmodel last: a reader that finds it finds a complete folder.
    location.write_bytes(MLMODEL_FILE, model.to_yaml().encode("utf-8"))
    return model


def save_model(
    spark_model: Any,
    path: str,
    *,
    input_example: pd.DataFrame | None = None,
    signature: ModelSignature | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
) -> Model:
    """Save a fitted pyspark.ml model as an MLflow-compatible model folder.

    ``path`` is a local folder or a Hadoop URI (``hdfs://``, ``s3a://``, ...); it must
    not hold a model yet. Returns the MLmodel contents written.
    """
    return _save(
        spark_model,
        location_for_path(path),
        run_id=run_id,
        artifact_path=artifact_path,
        input_example=input_example,
        signature=signature,
    )


def _logged_models(client: TrackingClient, run_id: str) -> list[Any]:
    """The entries of the run tag ``mlflow.log-model.history``."""
    current = client.get_tags(run_id).get(LOGGED_MODELS_TAG)
    try:
        entries = json.loads(current) if current else []
    except json.JSONDecodeError:
        return []
    return entries if isinstance(entries, list) else []


def _record_history(
    client: TrackingClient, run_id: str, model: Model, logged_before: list[Any]
) -> None:
    """Append to the run tag ``mlflow.log-model.history`` as MLflow does."""
    from sparktrack.tracking._validation import MAX_TAG_VALUE

    entries = [*logged_before, model.history_entry()]
    value = json.dumps(entries)
    # A tag holds 8,000 characters: past that, the oldest entries give way to the newest.
    while len(value) > MAX_TAG_VALUE and len(entries) > 1:
        entries.pop(0)
        value = json.dumps(entries)
    client.set_tag(run_id, LOGGED_MODELS_TAG, value)


def log_model(
    spark_model: Any,
    artifact_path: str = "model",
    *,
    run_id: str | None = None,
    input_example: pd.DataFrame | None = None,
    signature: ModelSignature | None = None,
    client: TrackingClient | None = None,
    registered_model_name: str | None = None,
) -> ModelInfo:
    """Save a fitted pyspark.ml model into a run's artifacts at ``artifact_path``.

    With ``registered_model_name`` the logged model also becomes that registered
    model's next version (``ModelInfo.registered_model_version``).

    ``run_id`` defaults to the active run (without ``client``, one is started if none
    is, as in MLflow); ``client`` to the fluent API's. Spark writes ``sparkml/``
    straight to the run's artifact URI; the small files go through the store's
    artifact repository.
    """
    if run_id is None:
        from sparktrack.tracking._fluent import _run_id_for_logging, active_run

        current = active_run()
        if current is not None:
            run_id = current.info.run_id
        elif client is None:
            run_id = _run_id_for_logging()  # MLflow's habit: logging without a run starts one
        else:
            raise InvalidInputError(
                "log_model got a client= but no run_id= and no run is active; pass the "
                "run_id of a run in that client's store"
            )
    if client is None:
        from sparktrack.tracking import get_client

        client = get_client()
    rel = check_artifact_path(artifact_path)
    if not rel:
        raise InvalidInputError(
            "artifact_path is empty; log the model under a folder name such as 'model'"
        )
    location = location_for_run(client, run_id, rel)
    model = _save(
        spark_model,
        location,
        run_id=run_id,
        artifact_path=rel,
        input_example=input_example,
        signature=signature,
    )
    _record_history(client, run_id, model, _logged_models(client, run_id))
    registered = None
    if registered_model_name is not None:
        version = client.registry.register_model(f"runs:/{run_id}/{rel}", registered_model_name)
        registered = version.version
    return ModelInfo(
        registered_model_version=registered,
        model_uri=f"runs:/{run_id}/{rel}",
        run_id=run_id,
        artifact_path=rel,
        flavors=model.flavors,
        signature=model.signature,
        utc_time_created=model.utc_time_created,
        model_uuid=model.model_uuid,
    )
