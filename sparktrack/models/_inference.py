"""Signatures inferred from schemas and fitted models, never from Spark jobs.

Inference never runs a Spark job: the input columns come from the stages' params,
the output type from the schema of a transform of an *empty* DataFrame (analysis
only). MLflow probes data instead, which costs jobs on every logged model. A pandas
input example is read for its column types only (:func:`pandas_schema`).

pyspark is imported inside the functions that need it: importing sparktrack must not
load it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sparktrack.errors import InvalidInputError
from sparktrack.models._signature import ColSpec, ModelSignature, col_spec
from sparktrack.models._spark_errors import spark_input_complaint
from sparktrack.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

__all__ = [
    "empty_dataframe",
    "infer_signature",
    "output_column",
    "pandas_schema",
    "signature_for_spark_model",
    "signature_from_example",
    "stages",
]

# Params through which pyspark.ml stages name the columns they read and write.
# featuresCols: Sparkling Water's H2O models read raw columns by name.
_INPUT_PARAMS = ("inputCol", "inputCols", "featuresCol", "featuresCols")
_OUTPUT_PARAMS = (
    "outputCol",
    "outputCols",
    "predictionCol",
    "probabilityCol",
    "rawPredictionCol",
    "varianceCol",
    "leafCol",
)


def _select(schema: StructType, cols: Sequence[str] | None, role: str) -> list[ColSpec]:
    if cols is None:
        return [col_spec(f.name, f.dataType) for f in schema.fields]
    by_name = {f.name: f for f in schema.fields}
    missing = [c for c in cols if c not in by_name]
    if missing:
        raise InvalidInputError(
            f"{role} columns {missing} are not in the schema, which has {list(by_name)}"
        )
    return [col_spec(c, by_name[c].dataType) for c in cols]


def _pandas_type(series: pd.Series, column: str) -> DataType:
    """The Spark type of a pandas column, from its dtype or (object columns) its values."""
    from pyspark.ml.linalg import Vector, VectorUDT
    from pyspark.sql import types as T

    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    width = getattr(dtype, "itemsize", 8)
    if kind in "iu":
        return T.IntegerType() if width <= 4 and kind == "i" else T.LongType()
    if kind == "f":
        return T.FloatType() if width <= 4 else T.DoubleType()
    if kind == "M" or isinstance(dtype, pd.DatetimeTZDtype):
        return T.TimestampType()
    present = series.dropna()
    if present.empty:
        raise InvalidInputError(
            f"column {column!r} holds only missing values, so its type cannot be inferred; "
            "give at least one value, or pass signature="
        )
    if all(isinstance(v, Vector | list | tuple | np.ndarray) for v in present):
        # Spark models read lists of numbers as ML vectors (predict accepts both).
        return VectorUDT()
    inferred = pd.api.types.infer_dtype(present, skipna=True)
    simple: dict[str, DataType] = {
        "boolean": T.BooleanType(),
        "integer": T.LongType(),
        "floating": T.DoubleType(),
        "mixed-integer-float": T.DoubleType(),
        "string": T.StringType(),
        "bytes": T.BinaryType(),
        "datetime": T.TimestampType(),
        "datetime64": T.TimestampType(),
        "date": T.TimestampType(),
    }
    if inferred in simple:
        return simple[inferred]
    raise InvalidInputError(
        f"column {column!r} holds values pandas calls {inferred!r} "
        f"({', '.join(sorted({type(v).__name__ for v in present}))}), which a model "
        "signature cannot describe; give one type per column, or pass signature="
    )


def pandas_schema(frame: pd.DataFrame) -> StructType:
    """The Spark schema a pandas DataFrame's columns would have (no Spark job runs).

    Numbers keep their width (int32 -> integer, int64 -> long, float32 -> float),
    object columns are typed from their values, and columns of pyspark.ml vectors or
    lists of numbers become ML vectors.
    """
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField(str(name), _pandas_type(frame[name], str(name)), nullable=True)
            for name in frame.columns
        ]
    )


def _schema_of(data: Any, role: str) -> StructType:
    """The schema of a StructType, a Spark DataFrame, or a pandas DataFrame / Series."""
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql.types import StructType

    if isinstance(data, StructType):
        return data
    if isinstance(data, SparkDataFrame):
        return data.schema
    if isinstance(data, pd.Series):
        data = data.to_frame(name=data.name if data.name is not None else "prediction")
    if isinstance(data, pd.DataFrame):
        return pandas_schema(data)
    raise InvalidInputError(
        f"infer_signature's {role} must be a Spark DataFrame, a StructType (df.schema) or "
        f"a pandas DataFrame (or Series, for the output); got {type(data).__name__}"
    )


def infer_signature(
    model_input: Any,
    model_output: Any = None,
    *,
    input_cols: list[str] | None = None,
    output_cols: list[str] | None = None,
) -> ModelSignature:
    """A signature from what a model reads and writes (no data is read, no Spark job runs).

        signature = infer_signature(train.schema, model.transform(train).schema,
                                    input_cols=["x1", "x2"], output_cols=["prediction"])

    Args:
        model_input: The input: a Spark DataFrame, its ``schema`` (a StructType) or a
            pandas DataFrame.
        model_output: The output, the same kinds or a pandas Series; None for no outputs.
        input_cols: The input columns to keep, in this order; all by default.
        output_cols: The output columns to keep, in this order; all by default.

    Returns:
        The signature.

    Raises:
        InvalidInputError: A side is of another kind, a named column is missing, or a
            column's type cannot be described (maps, structs, mixed values...).
    """
    inputs = _select(_schema_of(model_input, "input"), input_cols, "input")
    outputs = (
        _select(_schema_of(model_output, "output"), output_cols, "output")
        if model_output is not None
        else None
    )
    return ModelSignature(inputs=inputs, outputs=outputs or None)


# -- which columns a fitted model reads and writes -------------------------------------
def stage_param(stage: Any, name: str) -> Any:
    """A pipeline stage's param value, set or default (public for sparktrack's layers).

    Args:
        stage: A ``pyspark.ml`` stage (estimator, transformer or model).
        name: The param's name (``"labelCol"``).

    Returns:
        Its value, or None when the stage has no such param or leaves it undefined.
    """
    if not stage.hasParam(name):
        return None
    param = stage.getParam(name)
    return stage.getOrDefault(param) if stage.isDefined(param) else None


def written_columns(stage: Any) -> set[str]:
    """The columns a stage writes (public for sparktrack's layers: monitoring).

    Args:
        stage: A ``pyspark.ml`` stage.

    Returns:
        The names its output params (``outputCol``, ``predictionCol``, ...) give.
    """
    return _columns(stage, _OUTPUT_PARAMS)


def _columns(stage: Any, names: Iterable[str]) -> set[str]:
    cols: set[str] = set()
    for name in names:
        value = stage_param(stage, name)
        if isinstance(value, str) and value:
            cols.add(value)
        elif isinstance(value, list | tuple):
            cols.update(v for v in value if isinstance(v, str) and v)
    return cols


def stages(model: Any) -> list[Any]:
    """The model's stages in order, pipelines flattened, tuners' best models unwrapped.

    Public (as ``model_stages``) for sparktrack's own layers: monitoring reads the
    last stage's params.

    Args:
        model: A fitted pyspark.ml model, PipelineModel or tuner model.

    Returns:
        The stages, first to last.
    """
    from pyspark.ml import PipelineModel

    if isinstance(model, PipelineModel):
        flat: list[Any] = []
        for stage in model.stages:
            flat.extend(stages(stage))
        return flat
    best = getattr(model, "bestModel", None)  # CrossValidatorModel, TrainValidationSplitModel
    if best is not None:
        return stages(best)
    return [model]


def output_column(model: Any) -> str:
    """The column a model's predictions land in: MLflow's ``prediction`` unless renamed.

    Public for sparktrack's own layers (monitoring profiles that column).

    Args:
        model: A fitted pyspark.ml model or PipelineModel.

    Returns:
        The last stage's ``predictionCol`` (or ``outputCol``), else ``prediction``.
    """
    flat = stages(model)
    last = flat[-1] if flat else model
    for name in ("predictionCol", "outputCol"):
        value = stage_param(last, name)
        if isinstance(value, str) and value:
            return value
    return "prediction"


def _needed_inputs(model: Any, training_cols: list[str], label_cols: set[str]) -> list[str] | None:
    """Training columns a transform reads, in training order; None when params cannot tell.

    Walks the stages in order: a column a stage reads that no earlier stage wrote must
    come from the input. A StringIndexerModel that only writes label columns is skipped:
    Spark skips such a stage when its input column is absent, so scoring needs no label.
    """
    from pyspark.ml.feature import RFormulaModel, StringIndexerModel

    produced: set[str] = set()
    needed: set[str] = set()
    for stage in stages(model):
        reads = _columns(stage, _INPUT_PARAMS)
        writes = _columns(stage, _OUTPUT_PARAMS)
        if not reads or isinstance(stage, RFormulaModel):
            # SQLTransformer, RFormula, custom stages: what they read is not in their params
            # (RFormula's featuresCol is what it writes).
            return None
        label_only = writes and writes <= label_cols
        if not (isinstance(stage, StringIndexerModel) and label_only):
            needed |= reads - produced
        produced |= writes
    if not needed <= set(training_cols):
        return None  # a stage reads a column the training data lacks: params mislead us
    return [c for c in training_cols if c in needed]


def _label_columns(model: Any, label_cols: Sequence[str]) -> set[str]:
    labels = set(label_cols)
    for stage in stages(model):
        labels |= _columns(stage, ("labelCol", "weightCol"))
    return labels


def empty_dataframe(session: SparkSession, schema: StructType) -> DataFrame:
    """A DataFrame with ``schema`` and no rows, built in the JVM.

    ``createDataFrame([], schema)`` sends even no rows through pyspark's Python RDD
    path (a PythonRDD, the schema converted row by row): about three times the cost of
    the JVM's own ``createDataFrame`` of an empty list, for the same empty relation.
    """
    from pyspark.sql import DataFrame  # late: importing sparktrack.models imports no pyspark

    jvm = session.sparkContext._jvm
    assert jvm is not None
    java_schema = jvm.org.apache.spark.sql.types.DataType.fromJson(schema.json())
    empty = session._jsparkSession.createDataFrame(jvm.java.util.ArrayList(), java_schema)
    return DataFrame(empty, session)


def signature_for_spark_model(
    model: Any,
    training_schema: StructType,
    label_cols: Sequence[str] = (),
    *,
    spark: SparkSession | None = None,
) -> ModelSignature:
    """The signature of a fitted pyspark.ml model, from its params and schemas only.

    Inputs: the training columns its stages read (``inputCol``/``inputCols``/
    ``featuresCol``) that no earlier stage writes; if the params cannot tell, every
    training column except the labels (``label_cols`` plus the stages' ``labelCol`` /
    ``weightCol``). Output: the prediction column, typed by transforming an empty
    DataFrame, which Spark only analyses (no job runs).

    Args:
        model: A fitted pyspark.ml model or PipelineModel.
        training_schema: The schema of the data it was fitted on (``train.schema``).
        label_cols: Columns that are never inputs (besides the stages' ``labelCol``).
        spark: The session for the empty DataFrame; by default the running one.

    Returns:
        The signature.

    Raises:
        InvalidInputError: The prediction column is not in the transform's schema, or
            a column's type cannot be described.
    """
    training_cols = [f.name for f in training_schema.fields]
    labels = _label_columns(model, label_cols)
    inputs = _needed_inputs(model, training_cols, labels)
    if inputs is None:
        inputs = [c for c in training_cols if c not in labels]
    session = spark or spark_session()
    output_schema = model.transform(empty_dataframe(session, training_schema)).schema
    output = output_column(model)
    if output not in output_schema.fieldNames():
        raise InvalidInputError(
            f"the model's output column {output!r} is not in its transform's schema "
            f"{output_schema.fieldNames()}; pass signature= explicitly"
        )
    return infer_signature(training_schema, output_schema, input_cols=inputs, output_cols=[output])


def signature_from_example(model: Any, example: pd.DataFrame) -> ModelSignature:
    """The signature of a fitted model, with the column types of a pandas input example.

    As :func:`signature_for_spark_model` with the example standing in for the training
    data: columns the model does not read (labels, ids) are left out. An example the
    model cannot take (a column missing, a wrong type) is an InvalidInputError with
    Spark's reason, which names the column.
    """
    schema = pandas_schema(example)
    try:
        return signature_for_spark_model(model, schema)
    except Exception as exc:
        complaint = spark_input_complaint(exc)
        if complaint is None:
            raise
        raise InvalidInputError(
            f"input_example does not fit the model ({complaint}); give an example with "
            f"the columns the model reads, or pass signature= (the example has "
            f"{[f'{f.name}: {f.dataType.simpleString()}' for f in schema.fields]})"
        ) from None
