"""Spark ML models as MLflow-compatible model folders: save, log, load, score.

    info = sparktrack.models.log_model(pipeline_model, "model", signature=signature)
    model = sparktrack.models.load_model(info.model_uri)
    model.predict(pandas_df)

Folders have MLflow's layout (``MLmodel``, ``sparkml/``, environment files), so
``mlflow.spark.load_model`` and ``mlflow.pyfunc.load_model`` read them too. Importing
this package does not import pyspark; the functions do when called.
"""

from __future__ import annotations

from sparktrack.models._mlmodel import Model
from sparktrack.models._pyfunc import LoadedModel, load_model
from sparktrack.models._signature import (
    ColSpec,
    ModelSignature,
    infer_signature,
    signature_for_spark_model,
)
from sparktrack.models._spark_flavor import ModelInfo, log_model, save_model
from sparktrack.models._udf import spark_udf

__all__ = [
    "ColSpec",
    "LoadedModel",
    "Model",
    "ModelInfo",
    "ModelSignature",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
    "signature_for_spark_model",
    "spark_udf",
]
