"""A loaded model: its MLmodel, its Spark model, and ``predict`` on pandas.

``predict`` checks the input against the signature first (see ``_inputs``), so a bad
request fails in milliseconds with a message naming the column instead of deep
inside a Spark job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.models._h2o_flavor import FLAVOR_NAME as H2O_FLAVOR
from sparktrack.models._h2o_flavor import prepare_load
from sparktrack.models._h2o_stage import complete_derived_params
from sparktrack.models._inference import output_column
from sparktrack.models._inputs import enforce_signature, infer_rows, local_columns
from sparktrack.models._local_scorer import (
    LocalScorer,
    LocalScoringUnsupported,
    compile_local_scorer,
    compile_saved_model,
)
from sparktrack.models._mlmodel import MLMODEL_FILE, Model
from sparktrack.models._signature import ModelSignature
from sparktrack.models._spark_errors import input_errors_from_spark
from sparktrack.models._spark_flavor import FLAVOR_NAME
from sparktrack.models._sparkml import SPARKML_DIR, check_spark_save, load_spark_model
from sparktrack.models._uri import ModelLocation
from sparktrack.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["ENGINES", "Engine", "LoadedModel", "load_model_at", "read_mlmodel"]

Engine = Literal["auto", "local", "spark"]
"""How ``LoadedModel.predict`` scores: ``auto`` (numpy when it can, else Spark),
``local`` (numpy only) or ``spark`` (always a Spark job)."""
ENGINES: tuple[Engine, ...] = ("auto", "local", "spark")

log = logging.getLogger("sparktrack.models")


def _python_output(value: Any) -> Any:
    if hasattr(value, "toArray"):  # vector outputs become lists
        return [float(x) for x in value.toArray()]
    return value


class LoadedModel:
    """A model folder loaded for scoring (``load_model`` returns one).

    ``predict`` scores with numpy when every stage of the model is one the local scorer
    evaluates (see :mod:`sparktrack.models._local_scorer`), else with Spark;
    ``engine="spark"`` forces Spark. A model the local scorer covers is loaded without
    Spark: its Spark model is loaded (starting a JVM when none runs) the first time
    ``spark_model`` is read or an input needs Spark.

    Args:
        metadata: The folder's MLmodel contents.
        spark_model: The pyspark.ml model, when already loaded.
        source: The URI it was loaded from.
        scorer: The model's numpy evaluation, when compiled already.
        unsupported: What keeps the local scorer from evaluating the model, when known.
        load_spark: Loads the Spark model on first use (when ``spark_model`` is None).
        session: Gives the SparkSession that scores with Spark (default: the running
            one, else a new local one).

    Attributes:
        metadata: The folder's MLmodel contents.
        source: The URI it was loaded from.
    """

    def __init__(
        self,
        metadata: Model,
        spark_model: Any = None,
        source: str = "",
        *,
        scorer: LocalScorer | None = None,
        unsupported: str | None = None,
        load_spark: Callable[[], Any] | None = None,
        session: Callable[[], SparkSession] = spark_session,
    ) -> None:
        if spark_model is None and load_spark is None:
            raise ValueError("LoadedModel needs a spark_model or a way to load it")
        self.metadata = metadata
        self.source = source
        self._spark_model = spark_model
        self._load_spark = load_spark
        self._session = session
        self._spark_lock = threading.Lock()
        self._scorer = scorer
        self._unsupported = unsupported

    def __repr__(self) -> str:
        return f"LoadedModel(source={self.source!r}, engine={self.engine!r})"

    @property
    def spark_model(self) -> Any:
        """The pyspark.ml model itself (``transform`` scores across a cluster).

        Loaded on first use for a model the local scorer covers, which starts Spark
        when none runs.

        Raises:
            StoreError: Spark could not load the model.
        """
        if self._spark_model is None:
            with self._spark_lock:  # one load, however many requests ask at once
                if self._spark_model is None:
                    assert self._load_spark is not None
                    log.info("loading %s with Spark (starts Spark if none runs)", self.source)
                    self._spark_model = self._load_spark()
        return self._spark_model

    @property
    def spark_loaded(self) -> bool:
        """Whether the Spark model is loaded (a JVM holds it)."""
        return self._spark_model is not None

    @property
    def signature(self) -> ModelSignature | None:
        """What the model reads and writes, from its MLmodel; None if it was logged without."""
        return self.metadata.signature

    @property
    def local_scorer(self) -> LocalScorer | None:
        """The numpy evaluation of the model; None when a stage needs Spark."""
        if self._scorer is None and self._unsupported is None:
            try:
                self._scorer = compile_local_scorer(self.spark_model)
            except LocalScoringUnsupported as exc:
                self._unsupported = str(exc)
        return self._scorer

    @property
    def local_scoring_unsupported(self) -> str | None:
        """What keeps the local scorer from evaluating the model (None if nothing does)."""
        return None if self.local_scorer is not None else self._unsupported

    @property
    def engine(self) -> str:
        """``"local"`` when numpy scores the model, else ``"spark"``."""
        return "local" if self.local_scorer is not None else "spark"

    def _output_columns(self, transformed_columns: list[str]) -> list[str]:
        signature = self.signature
        if signature is not None and signature.output_names:
            return signature.output_names
        # No named outputs (older or MLflow-written models): MLflow's rule, "prediction".
        if "prediction" in transformed_columns:
            return ["prediction"]
        return [output_column(self.spark_model)]

    def predict(
        self,
        data: pd.DataFrame,
        *,
        spark: SparkSession | None = None,
        engine: Engine = "auto",
    ) -> pd.Series | pd.DataFrame:
        """Score a pandas DataFrame.

        A Series of predictions, or a DataFrame for several outputs, indexed like
        ``data``. Vector outputs become lists.

        Args:
            data: The rows to score; the signature's columns are checked (and converted
                only without loss) before anything runs, extra columns are dropped.
            spark: The session for Spark scoring; by default the running one.
            engine: ``"auto"`` scores with numpy when the model and the input allow it,
                else with Spark; ``"local"`` only with numpy; ``"spark"`` always runs a
                Spark job.

        Returns:
            A Series of predictions named after the output column, or a DataFrame for
            several outputs, indexed like ``data``.

        Raises:
            InvalidInputError: ``data`` is not a pandas DataFrame, a column is missing or
                of the wrong type (the message names it), ``engine`` is unknown, or
                ``engine="local"`` and numpy cannot score this model or input.
        """
        if not isinstance(data, pd.DataFrame):
            raise InvalidInputError(f"predict takes a pandas DataFrame, got {type(data).__name__}")
        if engine not in ENGINES:
            raise InvalidInputError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
        if engine != "spark":
            scorer = self.local_scorer
            reason = self._unsupported
            if scorer is not None:
                try:
                    return self._predict_local(data, scorer)
                except LocalScoringUnsupported as exc:
                    reason = str(exc)
            if engine == "local":
                raise InvalidInputError(
                    f"the local scorer cannot score this with numpy ({reason} needs Spark); "
                    "use engine='auto' or engine='spark'"
                )
        return self._predict_spark(data, spark)

    def _frame_result(
        self, data: pd.DataFrame, values: dict[str, Any], outputs: list[str]
    ) -> pd.Series | pd.DataFrame:
        if len(outputs) == 1:
            return pd.Series(values[outputs[0]], index=data.index, name=outputs[0])
        return pd.DataFrame({c: values[c] for c in outputs}, index=data.index)

    def _missing_outputs(self, outputs: list[str], columns: list[str]) -> None:
        missing = [c for c in outputs if c not in columns]
        if missing:
            raise InvalidInputError(
                f"the model's output columns {missing} are not in its transform's result "
                f"{columns}; its signature does not match the model"
            )

    def _predict_local(self, data: pd.DataFrame, scorer: LocalScorer) -> pd.Series | pd.DataFrame:
        columns = local_columns(data, self.signature, scorer)
        transformed = scorer.transform(columns, len(data.index))
        outputs = self._output_columns(list(transformed))
        self._missing_outputs(outputs, list(transformed))
        values = {
            c: transformed[c].tolist() if transformed[c].ndim == 2 else transformed[c]
            for c in outputs
        }
        return self._frame_result(data, values, outputs)

    def _predict_spark(
        self, data: pd.DataFrame, spark: SparkSession | None
    ) -> pd.Series | pd.DataFrame:
        if self.signature is not None and self.signature.inputs:
            rows, schema = enforce_signature(data, self.signature)
        else:
            rows, schema = infer_rows(data)
        session = spark or self._session()
        # Rows built here, not createDataFrame(pandas): exact types, no pandas/Arrow quirks.
        frame = session.createDataFrame(rows, schema)
        with input_errors_from_spark("the model cannot score this input"):
            transformed = self.spark_model.transform(frame)
            outputs = self._output_columns(transformed.columns)
            self._missing_outputs(outputs, transformed.columns)
            collected = transformed.select(*outputs).collect()
        values = {c: [_python_output(row[i]) for row in collected] for i, c in enumerate(outputs)}
        return self._frame_result(data, values, outputs)


def read_mlmodel(location: ModelLocation, model_uri: str) -> Model:
    """The MLmodel file of the model folder at ``location``.

    Args:
        location: The model folder.
        model_uri: What the user gave, for messages.

    Returns:
        The folder's MLmodel contents.

    Raises:
        NotFoundError: The folder has no MLmodel file.
        InvalidInputError: The MLmodel file is not valid.
    """
    try:
        text = location.read_bytes(MLMODEL_FILE)
    except NotFoundError as exc:
        raise NotFoundError(
            f"no model at {model_uri!r}: {location} has no MLmodel file. Give the folder "
            "save_model wrote, or runs:/<run_id>/<artifact_path> of a logged model"
        ) from exc
    return Model.from_yaml(text, source=f"MLmodel of {model_uri!r}")


def load_model_at(
    location: ModelLocation,
    model_uri: str,
    *,
    session: Callable[[], SparkSession] = spark_session,
) -> LoadedModel:
    """Load the model folder at ``location`` (``model_uri`` is what the user gave).

    A model whose every stage the local scorer evaluates is compiled from its Spark ML
    save without Spark; its Spark model loads on first use. Any other model is loaded
    with Spark now, in the session ``session`` gives.

    Args:
        location: The model folder.
        model_uri: What the user gave, for messages.
        session: Gives the SparkSession of models and inputs only Spark scores; called
            only when one needs it (default: the running session, else a new local one).

    Returns:
        The loaded model.

    Raises:
        NotFoundError: The folder has no MLmodel file, or no Spark model in ``sparkml/``.
        InvalidInputError: The folder names classes sparktrack refuses to load.
        StoreError: Spark could not load the model.
    """
    metadata = read_mlmodel(location, model_uri)
    flavor = metadata.flavor(FLAVOR_NAME)
    source = f"MLmodel of {model_uri!r}"
    h2o = H2O_FLAVOR in metadata.flavors
    # Every class the folder names is checked once, before anything is compiled or loaded.
    model_class = check_spark_save(location, flavor, source)

    def load_spark() -> Any:
        if h2o:
            prepare_load()
        spark_model = load_spark_model(location, flavor, model_class, source, session)
        if h2o:
            # Sparkling Water's reader leaves the views derived from the MOJO unset in a
            # folder sparktrack wrote: set them, so the model equals the one logged.
            complete_derived_params(spark_model)
        return spark_model

    scorer, unsupported = None, None
    if h2o:
        unsupported = "an H2O MOJO model"
    else:
        try:
            scorer = compile_saved_model(location, SPARKML_DIR)
        except LocalScoringUnsupported as exc:
            unsupported = str(exc)
    return LoadedModel(
        metadata,
        None if scorer is not None else load_spark(),
        model_uri,
        scorer=scorer,
        unsupported=unsupported,
        load_spark=load_spark,
        session=session,
    )
