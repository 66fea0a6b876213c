"""``spark_udf``: batch scoring across the cluster, as a pandas UDF.

A Spark model cannot run inside a task (no JVM model there), so the UDF carries the
model's numpy evaluation (:mod:`sparktrack.models._local_scorer`): coefficients read
from the fitted stages, the same arithmetic as ``transform``. Models with a stage the
local scorer does not evaluate are refused with a pointer to ``transform``, which
scores across the cluster too.

The task's code travels with the task (``ship_scoring_code``): executors need numpy,
pandas and pyarrow, as any pandas UDF does, not sparktrack.

ML vector columns reach a pandas UDF in Spark's storage form, a struct
``{type, size, indices, values}`` per row (pyspark 3.5 does not turn UDTs back into
their Python class there): each task decodes them with ``VectorUDT.deserialize``
before scoring.

With ``log_to``, each task also stages the rows it scored, sampled, for the scoring
log (:mod:`sparktrack.models._scoring_log_staging` says how and what can go wrong);
a failure there is a warning in the executor's log, never a failed task.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from sparktrack.errors import InvalidInputError
from sparktrack.models._inputs import local_columns
from sparktrack.models._local_scorer import LocalScorer, LocalScoringUnsupported
from sparktrack.models._pyfunc import LoadedModel
from sparktrack.models._scoring_log import (
    ScoringContext,
    check_fraction,
    scoring_rows,
    table_path,
    warn_once,
)
from sparktrack.models._scoring_log_staging import stage_rows, start_committer
from sparktrack.models._signature import ModelSignature, spark_type_for

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession

__all__ = ["ship_scoring_code", "udf_for_model"]

# The modules a scoring task runs code from. Executors often lack sparktrack (and
# deltalake, which importing any sparktrack module loads through sparktrack/__init__):
# these travel with each task by value, as cloudpickle sends code defined in a script,
# so a task needs only numpy, pandas, pyarrow and pyspark's Python side, which every
# pandas UDF needs anyway.
_SCORING_MODULES = (
    "sparktrack.errors",
    "sparktrack.models._udf",
    "sparktrack.models._inputs",
    "sparktrack.models._signature",
    "sparktrack.models._scoring_log",
    "sparktrack.models._scoring_log_staging",
    "sparktrack.models._sparkml_reader",
    # The local scorer and every stage family it compiles to.
    "sparktrack.models._local_scorer",
    "sparktrack.models._local_frame",
    "sparktrack.models._local_stages",
    "sparktrack.models._local_categorical",
    "sparktrack.models._local_interaction",
    "sparktrack.models._local_projections",
    "sparktrack.models._local_predictors",
    "sparktrack.models._local_glm",
    "sparktrack.models._local_bayes",
    "sparktrack.models._local_clustering",
    "sparktrack.models._local_forest",
    "sparktrack.models._local_trees",
)


def ship_scoring_code() -> None:
    """Send the scoring task's code with each task rather than import it by name there."""
    # Imported here: `import sparktrack` must not load pyspark.
    from pyspark import cloudpickle

    for name in _SCORING_MODULES:
        cloudpickle.register_pickle_by_value(sys.modules[name])


@dataclass(frozen=True)
class _TaskLog:
    """Where a task stages its scored rows, and which of them."""

    path: str
    application_id: str
    context: ScoringContext
    fraction: float

    def record(
        self, frame: pd.DataFrame, predictions: pd.Series, signature: ModelSignature | None
    ) -> None:
        try:
            rows = scoring_rows(
                frame, predictions, self.context, fraction=self.fraction, signature=signature
            )
            if rows is not None:
                stage_rows(self.path, self.application_id, rows)
        except Exception as exc:  # the scores matter more than their log
            warn_once(
                f"stage {type(exc).__name__}",
                f"spark_udf could not stage scored rows for the scoring log at {self.path} "
                f"({type(exc).__name__}: {exc}); the scores are returned",
            )


@dataclass(frozen=True)
class _BatchScorer:
    """What each task needs: picklable (numpy arrays and dataclasses, no JVM objects)."""

    signature: ModelSignature | None
    scorer: LocalScorer
    output: str
    log: _TaskLog | None = None

    def __call__(self, frame: pd.DataFrame) -> pd.Series:
        decoded = _decode_vectors(frame)
        try:
            columns = local_columns(decoded, self.signature, self.scorer)
        except LocalScoringUnsupported as exc:
            raise InvalidInputError(
                f"spark_udf scores with numpy and cannot take {exc}; score such rows with "
                "load_model(uri).spark_model.transform(df)"
            ) from None
        values = self.scorer.transform(columns, len(frame.index))[self.output]
        scores = pd.Series(list(values.tolist()) if values.ndim == 2 else values)
        if self.log is not None:
            self.log.record(decoded, scores.rename(self.output), self.signature)
        return scores


_VECTOR_FIELDS = frozenset({"type", "size", "indices", "values"})


def _is_vector_struct(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == _VECTOR_FIELDS


def _decode_vectors(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every column of vector structs turned into pyspark.ml vectors."""
    from pyspark.ml.linalg import VectorUDT

    udt = VectorUDT()
    decoded = {}
    for name in frame.columns:
        series = frame[name]
        present = series.dropna()
        if series.dtype != object or present.empty or not _is_vector_struct(present.iloc[0]):
            continue
        decoded[name] = series.map(
            lambda v: (
                udt.deserialize((v["type"], v["size"], v["indices"], v["values"]))
                if _is_vector_struct(v)
                else v
            )
        )
    return frame.assign(**decoded) if decoded else frame


def _result_type(model: Any, output: str, result_type: Any, session: SparkSession) -> Any:
    """The UDF's return type: given, from the signature's outputs, or off the model.

    Reading it off the model's own output schema loads the Spark model (in a JVM),
    which only a signature without the output's type requires.
    """
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import types as T

    if result_type is not None:
        return result_type
    signature = model.signature
    declared = {spec.name: spec for spec in (signature.outputs or [])} if signature else {}
    if output in declared:
        data_type = spark_type_for(declared[output])
        return T.ArrayType(T.DoubleType()) if isinstance(data_type, VectorUDT) else data_type
    if signature is None or not signature.inputs:
        if output == "prediction":
            return T.DoubleType()
        raise InvalidInputError(
            f"the model has no signature, so the type of its output {output!r} is unknown; "
            "pass result_type= (e.g. 'array<double>')"
        )
    schema = T.StructType(
        [T.StructField(str(spec.name), spark_type_for(spec)) for spec in signature.inputs]
    )
    # An empty frame: Spark resolves the output schema without running a job.
    produced = model.spark_model.transform(session.createDataFrame([], schema)).schema
    data_type = produced[output].dataType
    return T.ArrayType(T.DoubleType()) if isinstance(data_type, VectorUDT) else data_type


def udf_for_model(
    spark: SparkSession,
    model: LoadedModel,
    model_uri: str,
    *,
    output: str | None = None,
    result_type: Any = None,
    log_to: str | None = None,
    log_sample: float = 1.0,
    log_context: ScoringContext | None = None,
) -> Callable[..., Column]:
    """The scoring function of a loaded model (see ``sparktrack.models.spark_udf``).

    Raises:
        InvalidInputError: The local scorer does not evaluate the model, ``output`` is
            not a column the model writes, its type is unknown without
            ``result_type``, or ``log_sample`` is not a fraction.
    """
    # pyspark is imported only when a UDF is made: importing sparktrack must not load it.
    from pyspark.sql import functions as F

    scorer = model.local_scorer
    if scorer is None:
        raise InvalidInputError(
            f"model {model_uri!r} has {model.local_scoring_unsupported}, which only Spark "
            "evaluates: score it with load_model(uri).spark_model.transform(df), which "
            "also runs across the cluster"
        )
    chosen = output or model._output_columns(scorer.outputs)[0]
    if chosen not in scorer.outputs:
        raise InvalidInputError(
            f"output {chosen!r} is not a column the model writes; it writes {scorer.outputs}"
        )
    inputs = model.signature.input_names if model.signature is not None else []
    inputs = inputs or scorer.inputs
    log = None
    if log_to is not None:
        path = table_path(log_to)
        context = log_context or ScoringContext(model_uri, None, None)
        log = _TaskLog(path, spark.sparkContext.applicationId, context, check_fraction(log_sample))
    batch = _BatchScorer(model.signature, scorer, chosen, log)
    ship_scoring_code()

    def score(frame: pd.DataFrame) -> pd.Series:  # pyspark reads these type hints
        return batch(frame)

    udf = F.pandas_udf(score, _result_type(model, chosen, result_type, spark))  # type: ignore[call-overload]
    if log is not None:
        # Logging is a side effect: Spark must not evaluate the UDF twice per row (as
        # it may for a deterministic one used in a filter and a projection).
        udf = udf.asNondeterministic()
        start_committer(log.path, spark)

    def predict(*columns: str | Column) -> Column:
        picked = list(columns) or list(inputs)
        if len(picked) != len(inputs):
            raise InvalidInputError(
                f"the model reads {len(inputs)} columns {inputs}; got {len(picked)} columns"
            )
        # A struct arrives in the UDF as a pandas DataFrame named after the model's inputs.
        named = [
            (F.col(c) if isinstance(c, str) else c).alias(name)
            for c, name in zip(picked, inputs, strict=True)
        ]
        return udf(F.struct(*named))

    return predict
