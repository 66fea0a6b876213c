"""The models API with the fluent defaults: the process's tracking client, the active run.

The functions below take an explicit ``client`` and ``run_id`` when given; this module
fills in the fluent API's when they are not, through names ``sparktrack.tracking``
exports (``get_client``, ``active_run``, ``run_id_for_logging``): the fluent state
itself lives in tracking only. A client is opened only for URIs that point into a
store (``runs:/``, ``models:/``): loading a folder never opens one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from sparktrack.errors import InvalidInputError
from sparktrack.models._pyfunc import LoadedModel, load_model_at
from sparktrack.models._registry_hook import registry_for
from sparktrack.models._scoring_log import scoring_context
from sparktrack.models._signature import ModelSignature
from sparktrack.models._spark_flavor import ModelInfo, log_spark_model
from sparktrack.models._udf import udf_for_model
from sparktrack.models._uri import ModelLocation, location_of, needs_client
from sparktrack.tracking import TrackingClient, active_run, get_client, run_id_for_logging

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["DEFAULT_UDF_LOG_SAMPLE", "load_model", "log_model", "resolve_model_uri", "spark_udf"]

DEFAULT_UDF_LOG_SAMPLE = 0.1
"""The share of rows ``spark_udf(log_to=...)`` logs by default: batch scoring is large."""


def resolve_model_uri(
    model_uri: str | os.PathLike[str], client: TrackingClient | None = None
) -> ModelLocation:
    """Where a model URI points to now (public for sparktrack's own layers).

    Args:
        model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
            ``models:/<name>@<alias>``, ``models:/<model_id>`` (an MLflow 3 logged
            model), a local folder or a Hadoop URI.
        client: The store of ``runs:/`` and ``models:/`` URIs; by default the fluent
            API's (opened only for such URIs).

    Returns:
        The model folder: ``models:/`` URIs are resolved to their version's source.

    Raises:
        InvalidInputError: The URI cannot be read.
        NotFoundError: The run, registered model, version, stage or alias does not exist.
    """
    if client is None and needs_client(model_uri):
        client = get_client()
    return location_of(model_uri, client)


def load_model(model_uri: str, *, client: TrackingClient | None = None) -> LoadedModel:
    """Load a Spark model for scoring.

        model = sparktrack.load_model("models:/churn@champion")
        model.predict(pandas_df)

    Args:
        model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
            ``models:/<name>@<alias>``, a local folder or a Hadoop URI.
        client: The store of ``runs:/`` and ``models:/`` URIs; by default the fluent
            API's.

    Returns:
        The loaded model, with ``predict`` on pandas and the Spark model itself.

    Raises:
        NotFoundError: No model folder is there, or the run or registered version does
            not exist.
        InvalidInputError: The URI cannot be read, or the folder names classes
            sparktrack refuses to load (only pyspark.ml and Sparkling Water's are).
        ConfigurationError: The model needs Sparkling Water, which is not installed.
        StoreError: Spark could not load the model.
    """
    return load_model_at(resolve_model_uri(model_uri, client), str(model_uri))


def log_model(
    spark_model: Any,
    artifact_path: str = "model",
    *,
    run_id: str | None = None,
    input_example: pd.DataFrame | None = None,
    signature: ModelSignature | None = None,
    client: TrackingClient | None = None,
    registered_model_name: str | None = None,
    training_data: DataFrame | None = None,
) -> ModelInfo:
    """Save a fitted pyspark.ml model into a run's artifacts, as an MLflow model folder.

        info = sparktrack.log_model(pipeline_model, "model", input_example=rows)
        sparktrack.load_model(info.model_uri).predict(rows)

    Args:
        spark_model: A fitted pyspark.ml model or PipelineModel that Spark ML can write,
            Sparkling Water's models included.
        artifact_path: The folder in the run's artifacts.
        run_id: The run; by default the active run (without ``client``, one is started
            if none is, as in MLflow).
        input_example: A few rows of input (pandas), saved with the model; without
            ``signature``, its column types make the signature.
        signature: What the model reads and writes (see ``infer_signature``).
        client: The store of the run; by default the fluent API's.
        registered_model_name: Also register the model as that registered model's next
            version.
        training_data: The Spark DataFrame the model was trained on: its profile (the
            baseline ``sparktrack.monitor`` compares new data with) is saved beside the
            model as ``profile.json``, unless the ``profiles`` setting is false. It
            costs a Spark pass over the data before ``log_model`` returns (autolog
            makes them on its background thread). A failed profile is a warning; the
            model is logged without it.

    Returns:
        What was logged, with the ``runs:/`` URI that loads it.

    Raises:
        InvalidInputError: ``client`` is given without ``run_id`` while no run is
            active; ``artifact_path`` is empty or leaves the run's artifacts; the model
            cannot be saved as a Spark model or a model is already there; the example
            or signature is not valid.
        NotFoundError: The run does not exist.
        StoreError: Spark could not write the model.
    """
    if run_id is None:
        current = active_run()
        if current is not None:
            run_id = current.info.run_id
        elif client is None:
            run_id = run_id_for_logging()  # MLflow's habit: logging without a run starts one
        else:
            raise InvalidInputError(
                "log_model got a client= but no run_id= and no run is active; pass the "
                "run_id of a run in that client's store"
            )
    return log_spark_model(
        client if client is not None else get_client(),
        run_id,
        spark_model,
        artifact_path,
        input_example=input_example,
        signature=signature,
        registered_model_name=registered_model_name,
        training_data=training_data,
    )


def spark_udf(
    spark: SparkSession,
    model_uri: str,
    *,
    output: str | None = None,
    result_type: Any = None,
    client: TrackingClient | None = None,
    log_to: str | os.PathLike[str] | None = None,
    log_sample: float = DEFAULT_UDF_LOG_SAMPLE,
) -> Callable[..., Column]:
    """A function of columns that scores them with the model, in every Spark task.

        predict = sparktrack.models.spark_udf(spark, "models:/churn/Production")
        scored = df.withColumn("prediction", predict())        # the signature's columns
        scored = df.withColumn("p", predict("a", "b", "c"))    # or these, in that order

    With ``log_to``, the tasks also record a sample of what they score, with the model
    version, in a Delta table that ``sparktrack.monitor`` reads
    (``read_scoring_log``): no second Spark job. Each task stages its rows as a Parquet
    file beside the table and the driver commits them once their stage finished
    (every few seconds, when the table is read, and when the process exits). Logging
    never fails scoring: a failed write is a warning and the scores are returned. See
    the README ("Scoring data for free") for the layout and the failure modes.

    The result equals ``transform``'s for the models the local scorer evaluates (the
    stages listed in the models guide, docs/models.md).

    Args:
        spark: The session the UDF is used in.
        model_uri: As for ``load_model``.
        output: The model's output column to return (default: its prediction); vector
            outputs (``probability``) come back as ``array<double>``.
        result_type: The UDF's Spark type; by default read off the model's output.
        client: The store of ``runs:/`` and ``models:/`` URIs; by default the fluent
            API's.
        log_to: The scoring log's folder or URI (a Delta table, created on the first
            commit); None logs nothing.
        log_sample: The share of scored rows logged (above 0, at most 1); rows are
            picked by a hash of their input values, so a retried task logs the same.

    Returns:
        ``predict(*columns)``, which gives a Column of scores.

    Raises:
        InvalidInputError: The model has a stage only Spark evaluates (score it with
            ``load_model(uri).spark_model.transform(df)``), ``output`` is not a column it
            writes, its type is unknown without ``result_type``, or ``log_sample`` is
            not a fraction.
        NotFoundError: No model is there.
    """
    target = None
    if log_to is not None and model_uri.startswith("models:"):
        # Pinned once: the rows are logged with the version that scores them, even if
        # the stage or alias moves while the UDF is in use.
        client = client if client is not None else get_client()
        name = model_uri[len("models:/") :].split("/")[0].split("@")[0]
        target = f"models:/{name}/{registry_for(client).resolve(model_uri).version}"
    model = load_model(target or model_uri, client=client)
    return udf_for_model(
        spark,
        model,
        model_uri,
        output=output,
        result_type=result_type,
        log_to=None if log_to is None else os.fspath(log_to),
        log_sample=log_sample,
        log_context=scoring_context(model_uri, target),
    )
