"""Spark ML models as MLflow-compatible model folders: save, log, load, score.

    info = sparktrack.models.log_model(pipeline_model, "model", signature=signature)
    model = sparktrack.models.load_model(info.model_uri)
    model.predict(pandas_df)

Folders have MLflow's layout (``MLmodel``, ``sparkml/``, environment files), so
``mlflow.spark.load_model`` and ``mlflow.pyfunc.load_model`` read them too. Importing
this package does not import pyspark; the functions do when called.

Models sit below the model registry: ``models:/`` URIs and ``registered_model_name``
reach the registry through ``connect_registry``, which it calls when imported.
"""

from __future__ import annotations

from sparktrack.models._fluent import (
    DEFAULT_UDF_LOG_SAMPLE,
    load_model,
    log_model,
    resolve_model_uri,
    spark_udf,
)
from sparktrack.models._inference import (
    infer_signature,
    output_column,
    signature_for_spark_model,
    stage_param,
    written_columns,
)
from sparktrack.models._inference import stages as model_stages
from sparktrack.models._mlmodel import Model
from sparktrack.models._profile_hook import Profiler, connect_profiler
from sparktrack.models._pyfunc import ENGINES, Engine, LoadedModel, load_model_at, read_mlmodel
from sparktrack.models._registry_hook import ModelRegistry, RegisteredVersion, connect_registry
from sparktrack.models._scoring_log import (
    MODEL_NAME_COLUMN,
    MODEL_URI_COLUMN,
    MODEL_VERSION_COLUMN,
    REQUEST_ID_COLUMN,
    SCORED_AT_COLUMN,
    SCORING_LOG_COLUMNS,
    SCORING_LOG_PREFIX,
    ScoringContext,
    scoring_context,
)
from sparktrack.models._scoring_log_staging import read_scoring_log
from sparktrack.models._scoring_log_writer import ScoringLogWriter
from sparktrack.models._signature import ColSpec, ModelSignature
from sparktrack.models._spark_flavor import ModelInfo, save_model
from sparktrack.models._uri import (
    HadoopLocation,
    ModelLocation,
    location_for_path,
    logged_model_id,
    parse_runs_uri,
)

# Besides the public API, names for sparktrack's own layers (the registry, serving):
# each says so in its docstring.
__all__ = [
    "DEFAULT_UDF_LOG_SAMPLE",
    "ENGINES",
    "MODEL_NAME_COLUMN",
    "MODEL_URI_COLUMN",
    "MODEL_VERSION_COLUMN",
    "REQUEST_ID_COLUMN",
    "SCORED_AT_COLUMN",
    "SCORING_LOG_COLUMNS",
    "SCORING_LOG_PREFIX",
    "ColSpec",
    "Engine",
    "HadoopLocation",
    "LoadedModel",
    "Model",
    "ModelInfo",
    "ModelLocation",
    "ModelRegistry",
    "ModelSignature",
    "Profiler",
    "RegisteredVersion",
    "ScoringContext",
    "ScoringLogWriter",
    "connect_profiler",
    "connect_registry",
    "infer_signature",
    "load_model",
    "load_model_at",
    "location_for_path",
    "log_model",
    "logged_model_id",
    "model_stages",
    "output_column",
    "parse_runs_uri",
    "read_mlmodel",
    "read_scoring_log",
    "resolve_model_uri",
    "save_model",
    "scoring_context",
    "signature_for_spark_model",
    "spark_udf",
    "stage_param",
    "written_columns",
]
