"""The ``spark`` flavor: save and log pyspark.ml models the way MLflow lays them out.

A model folder::

    MLmodel                     flavors spark + python_function, signature, ...
    sparkml/                    Spark ML's native save of a PipelineModel (``_sparkml``)
    requirements.txt  python_env.yaml  conda.yaml
    input_example.json  serving_input_example.json     (with an input example)

so ``mlflow.spark.load_model`` and ``mlflow.pyfunc.load_model`` load it. Sparkling
Water models get an ``h2o_mojo`` flavor too (``_h2o_flavor``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sparktrack.errors import InvalidInputError
from sparktrack.models._h2o_flavor import FLAVOR_NAME as H2O_FLAVOR
from sparktrack.models._h2o_flavor import h2o_mojo_flavor
from sparktrack.models._inference import signature_from_example
from sparktrack.models._mlmodel import MLMODEL_FILE, Model
from sparktrack.models._profile_hook import profile_logged_model
from sparktrack.models._registry_hook import registry_for
from sparktrack.models._requirements import (
    CONDA_FILE,
    PYTHON_ENV_FILE,
    environment_files,
)
from sparktrack.models._signature import ModelSignature
from sparktrack.models._sparkml import SPARKML_DIR, as_pipeline, qualified_name, write_sparkml
from sparktrack.models._uri import ModelLocation, location_for_path, location_for_run
from sparktrack.store import check_artifact_path
from sparktrack.tracking import MAX_TAG_VALUE

if TYPE_CHECKING:
    from sparktrack.tracking import TrackingClient

__all__ = [
    "FLAVOR_NAME",
    "LOGGED_MODELS_TAG",
    "ModelInfo",
    "log_spark_model",
    "save_model",
]

FLAVOR_NAME = "spark"
PYFUNC_FLAVOR = "python_function"
LOGGED_MODELS_TAG = "mlflow.log-model.history"
EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` logged, and the URI that loads it.

    Attributes:
        model_uri: ``runs:/<run_id>/<artifact_path>``, which ``load_model`` loads.
        run_id: The run the model was logged to.
        artifact_path: Where in the run's artifacts the model folder is.
        flavors: The MLmodel's flavors (``spark``, ``python_function``, ``h2o_mojo``).
        signature: What the model reads and writes, if known.
        utc_time_created: When the model folder was written (UTC).
        model_uuid: The MLmodel's unique id.
        registered_model_version: The version it became with ``registered_model_name``;
            None otherwise.
    """

    model_uri: str
    run_id: str
    artifact_path: str
    flavors: dict[str, dict[str, Any]]
    signature: ModelSignature | None
    utc_time_created: str
    model_uuid: str
    registered_model_version: int | None = None


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
    # pyspark is imported when a model is saved, never when sparktrack is.
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
    pipeline, wrapped_class = as_pipeline(spark_model)
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
        flavors=_flavors(qualified_name(pipeline), wrapped_class),
        artifact_path=artifact_path,
        run_id=run_id,
        signature=signature,
        saved_input_example_info=example_info,
    )
    write_sparkml(pipeline, location)
    h2o = h2o_mojo_flavor(pipeline, location, SPARKML_DIR)
    if h2o is not None:  # Sparkling Water: point at the MOJO the save wrote
        model.flavors[H2O_FLAVOR] = h2o
    requirements_class = h2o["model_class"] if h2o else wrapped_class
    files = {
        **example_files,
        **environment_files(requirements_class or qualified_name(pipeline)),
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

    Args:
        spark_model: A fitted pyspark.ml model or PipelineModel (Spark ML must be able
            to write it: ``MLWritable``), Sparkling Water's models included.
        path: A local folder or a Hadoop URI (``hdfs://``, ``s3a://``, ...) that does
            not hold a model yet.
        input_example: A few rows of input, saved with the model; without
            ``signature``, its column types make the signature.
        signature: What the model reads and writes (see ``infer_signature``).
        run_id: The run to name in the MLmodel file, if any.
        artifact_path: The artifact path to name in the MLmodel file, if any.

    Returns:
        The MLmodel contents written.

    Raises:
        InvalidInputError: The model cannot be saved as a Spark model, the folder
            already holds a model, or the example or signature is not valid.
        StoreError: Spark could not write the model there.
    """
    return _save(
        spark_model,
        location_for_path(path),
        run_id=run_id,
        artifact_path=artifact_path,
        input_example=input_example,
        signature=signature,
    )


def _record_history(client: TrackingClient, run_id: str, model: Model) -> None:
    """Append to the run tag ``mlflow.log-model.history`` as MLflow does.

    Reads the run's tags alone, not the whole run (five tables and the runs fold).
    """
    current = client.get_tags(run_id).get(LOGGED_MODELS_TAG)
    try:
        entries = json.loads(current) if current else []
    except json.JSONDecodeError:
        entries = []
    if not isinstance(entries, list):
        entries = []
    entries.append(model.history_entry())
    value = json.dumps(entries)
    # A tag holds 8,000 characters: past that, the oldest entries give way to the newest.
    while len(value) > MAX_TAG_VALUE and len(entries) > 1:
        entries.pop(0)
        value = json.dumps(entries)
    client.set_tag(run_id, LOGGED_MODELS_TAG, value)


def log_spark_model(
    client: TrackingClient,
    run_id: str,
    spark_model: Any,
    artifact_path: str,
    *,
    input_example: pd.DataFrame | None = None,
    signature: ModelSignature | None = None,
    registered_model_name: str | None = None,
    training_data: Any = None,
) -> ModelInfo:
    """Save a fitted pyspark.ml model into run ``run_id``'s artifacts at ``artifact_path``.

    Spark writes ``sparkml/`` straight to the run's artifact URI; the small files go
    through the store's artifact repository. ``sparktrack.models.log_model`` is this
    with the fluent API's client and active run as defaults (``_fluent``).

    Raises:
        InvalidInputError: ``artifact_path`` is empty or leaves the run's artifacts, the
            model cannot be saved as a Spark model, or a model is already there.
        NotFoundError: The run does not exist in ``client``'s store.
        StoreError: Spark could not write the model.
    """
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
    # After the folder is complete and before it is registered: a registered version
    # then has its baseline. The profiler never raises (a warning at worst).
    profile_logged_model(spark_model, training_data, location, model.signature)
    _record_history(client, run_id, model)
    model_uri = f"runs:/{run_id}/{rel}"
    registered = None
    if registered_model_name is not None:
        registered = registry_for(client).register_model(model_uri, registered_model_name).version
    return ModelInfo(
        registered_model_version=registered,
        model_uri=model_uri,
        run_id=run_id,
        artifact_path=rel,
        flavors=model.flavors,
        signature=model.signature,
        utc_time_created=model.utc_time_created,
        model_uuid=model.model_uuid,
    )
