"""A loaded model: its MLmodel, its Spark model, and ``predict`` on pandas.

``predict`` checks the input against the signature first, so a bad request fails in
milliseconds with a message naming the column instead of deep inside a Spark job.
The conversion rules are MLflow's, plus lossless int64 -> double / integer (MLflow
refuses int64 -> double outright, though pandas makes every integer column int64).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.models._mlmodel import MLMODEL_FILE, Model
from sparktrack.models._signature import (
    ARRAY,
    SPARKML_VECTOR,
    ColSpec,
    ModelSignature,
    spark_type_for,
)
from sparktrack.models._spark_flavor import (
    FLAVOR_NAME,
    active_spark,
    load_spark_model,
)
from sparktrack.models._uri import ModelLocation, resolve_model_uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

    from sparktrack.tracking import TrackingClient

__all__ = ["LoadedModel", "load_model"]

_EXACT_DOUBLE_INT = 2**53  # integers up to this convert to double without loss
_INT32 = (-(2**31), 2**31 - 1)


def _bad_type(spec: ColSpec, series: pd.Series, hint: str = "") -> InvalidInputError:
    return InvalidInputError(
        f"input column {spec.name!r} must be {spec.describe()} (model signature), got "
        f"{_describe_values(series)}{hint}"
    )


def _describe_values(series: pd.Series) -> str:
    if series.dtype == object:
        kinds = sorted({type(v).__name__ for v in series.dropna()})
        return f"object column of {', '.join(kinds) or 'nulls'}"
    return f"dtype {series.dtype}"


def _within(series: pd.Series, low: float, high: float) -> bool:
    values = series.dropna()
    return bool(values.empty or (values.min() >= low and values.max() <= high))


def _python_values(series: pd.Series, convert: Any = None) -> list[Any]:
    """Python objects for createDataFrame; missing values become None."""
    values = series.astype(object).where(series.notna(), None).tolist()
    if convert is None:
        return values
    return [None if v is None else convert(v) for v in values]


def _all_instances(series: pd.Series, types: tuple[type, ...]) -> bool:
    return all(isinstance(v, types) for v in series.dropna())


def _numeric_column(spec: ColSpec, series: pd.Series) -> list[Any]:
    """Numbers of the signature's type; only conversions that lose nothing."""
    if series.dtype == object and _all_instances(series, (int, float, np.number)):
        series = series.infer_objects()  # Python numbers in an object column
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind not in ("i", "u", "f"):
        raise _bad_type(spec, series)
    if spec.type in ("double", "float"):
        if kind == "f":
            if spec.type == "float" and getattr(dtype, "itemsize", 8) > 4:
                raise _bad_type(spec, series, "; a double cannot become a float without loss")
            return _python_values(series, float)
        # int -> double: MLflow's rule is itemsize <= 4; int64 too when every value fits.
        if getattr(dtype, "itemsize", 8) <= 4 or _within(
            series, -_EXACT_DOUBLE_INT, _EXACT_DOUBLE_INT
        ):
            return _python_values(series, float)
        raise _bad_type(spec, series, "; its values are too large to be doubles exactly")
    if kind == "f":
        raise _bad_type(spec, series, "; floats do not become integers without loss")
    if spec.type == "integer" and not _within(series, *_INT32):
        raise _bad_type(spec, series, "; its values do not fit a 32-bit integer")
    if spec.type == "long" and not _within(series, -(2**63), 2**63 - 1):
        raise _bad_type(spec, series, "; its values do not fit a 64-bit integer")
    return _python_values(series, int)


def _to_vector(value: Any) -> Any:
    from pyspark.ml.linalg import Vector, Vectors

    if isinstance(value, Vector):
        return value
    return Vectors.dense([float(x) for x in value])


def _column_values(spec: ColSpec, series: pd.Series) -> list[Any]:
    """The column's values as Python objects for a Spark column of the spec's type."""
    kind = spec.type
    if kind in ("double", "float", "integer", "long"):
        return _numeric_column(spec, series)
    if kind == "string":
        if isinstance(series.dtype, pd.StringDtype) or (
            series.dtype == object and _all_instances(series, (str,))
        ):
            return _python_values(series)
        raise _bad_type(spec, series)
    if kind == "boolean":
        if series.dtype == bool or isinstance(series.dtype, pd.BooleanDtype):
            return _python_values(series, bool)
        if series.dtype == object and _all_instances(series, (bool, np.bool_)):
            return _python_values(series, bool)
        raise _bad_type(spec, series)
    if kind == "datetime":
        if getattr(series.dtype, "kind", "") == "M" or isinstance(series.dtype, pd.DatetimeTZDtype):
            return _python_values(series, lambda v: pd.Timestamp(v).to_pydatetime())
        if series.dtype == object and _all_instances(series, (dt.date, dt.datetime)):
            return _python_values(series, lambda v: pd.Timestamp(v).to_pydatetime())
        raise _bad_type(spec, series)
    if kind == "binary":
        if series.dtype == object and _all_instances(series, (bytes, bytearray)):
            return _python_values(series, bytes)
        raise _bad_type(spec, series)
    if kind == SPARKML_VECTOR:
        return _vector_column(spec, series)
    if kind == ARRAY:
        if series.dtype == object and _all_instances(series, (list, tuple, np.ndarray)):
            return _python_values(series, lambda v: list(np.asarray(v).tolist()))
        raise _bad_type(spec, series)
    raise InvalidInputError(
        f"input column {spec.name!r} has signature type {spec.describe()!r}, which "
        "sparktrack cannot check; re-log the model with a supported signature"
    )


def _vector_column(spec: ColSpec, series: pd.Series) -> list[Any]:
    from pyspark.ml.linalg import Vector

    if series.dtype != object or not _all_instances(series, (Vector, list, tuple, np.ndarray)):
        raise _bad_type(spec, series, "; pass a list of numbers or a pyspark.ml vector per row")
    try:
        return _python_values(series, _to_vector)
    except (TypeError, ValueError) as exc:
        raise _bad_type(spec, series, f"; a row is not a list of numbers ({exc})") from exc


def enforce_signature(frame: pd.DataFrame, signature: ModelSignature) -> tuple[list[Any], Any]:
    """(rows, Spark schema) of the signature's columns; InvalidInputError on a mismatch."""
    from pyspark.sql.types import StructField, StructType

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"predict takes a pandas DataFrame, got {type(frame).__name__}")
    names = [spec.name for spec in signature.inputs]
    if any(name is None for name in names):
        raise InvalidInputError(
            "the model's signature has unnamed input columns; sparktrack scores "
            "DataFrames by column name, re-log the model with a named signature"
        )
    columns: dict[str, list[Any]] = {}
    fields = []
    for spec in signature.inputs:
        assert spec.name is not None
        if spec.name not in frame.columns:
            if spec.required:
                raise InvalidInputError(
                    f"input column {spec.name!r} ({spec.describe()}) is required by the "
                    f"model signature but missing; the input has columns {list(frame.columns)}"
                )
            continue
        # Extra columns are dropped, as in MLflow: the model sees only what it declared.
        columns[spec.name] = _column_values(spec, frame[spec.name])
        fields.append(StructField(spec.name, spark_type_for(spec), nullable=True))
    rows = list(zip(*columns.values(), strict=True)) if columns else [() for _ in frame.index]
    return rows, StructType(fields)


def _infer_rows(frame: pd.DataFrame) -> tuple[list[Any], StructType]:
    """Rows and schema of a frame scored without a signature (types from pandas)."""
    from pyspark.ml.linalg import Vector, VectorUDT
    from pyspark.sql import types as T

    fields = []
    columns = []
    for name in frame.columns:
        series = frame[name]
        kind = getattr(series.dtype, "kind", "O")
        data_type: Any
        if kind == "b":
            data_type, values = T.BooleanType(), _python_values(series, bool)
        elif kind in "iu":
            data_type, values = T.LongType(), _python_values(series, int)
        elif kind == "f":
            data_type, values = T.DoubleType(), _python_values(series, float)
        elif kind == "M":
            data_type = T.TimestampType()
            values = _python_values(series, lambda v: pd.Timestamp(v).to_pydatetime())
        elif _all_instances(series, (Vector, list, tuple, np.ndarray)) and series.notna().any():
            data_type, values = VectorUDT(), _python_values(series, _to_vector)
        else:
            data_type, values = T.StringType(), _python_values(series, str)
        fields.append(T.StructField(str(name), data_type, nullable=True))
        columns.append(values)
    rows = list(zip(*columns, strict=True)) if columns else []
    return rows, T.StructType(fields)


def _python_output(value: Any) -> Any:
    if hasattr(value, "toArray"):  # vector outputs become lists
        return [float(x) for x in value.toArray()]
    return value


@dataclass
class LoadedModel:
    """A model folder loaded for scoring."""

    metadata: Model
    spark_model: Any
    source: str

    @property
    def signature(self) -> ModelSignature | None:
        return self.metadata.signature

    def _output_columns(self, transformed_columns: list[str]) -> list[str]:
        signature = self.signature
        if signature is not None and signature.output_names:
            return signature.output_names
        # No named outputs (older or MLflow-written models): MLflow's rule, "prediction".
        if "prediction" in transformed_columns:
            return ["prediction"]
        from sparktrack.models._signature import _output_column

        return [_output_column(self.spark_model)]

    def predict(
        self, data: pd.DataFrame, *, spark: SparkSession | None = None
    ) -> pd.Series | pd.DataFrame:
        """Score a pandas DataFrame: a Series of predictions, or a DataFrame for several
        outputs, indexed like ``data``. Vector outputs become lists."""
        if not isinstance(data, pd.DataFrame):
            raise InvalidInputError(f"predict takes a pandas DataFrame, got {type(data).__name__}")
        if self.signature is not None and self.signature.inputs:
            rows, schema = enforce_signature(data, self.signature)
        else:
            rows, schema = _infer_rows(data)
        session = spark or active_spark()
        # Rows built here, not createDataFrame(pandas): exact types, no pandas/Arrow quirks.
        frame = session.createDataFrame(rows, schema)
        transformed = self.spark_model.transform(frame)
        outputs = self._output_columns(transformed.columns)
        missing = [c for c in outputs if c not in transformed.columns]
        if missing:
            raise InvalidInputError(
                f"the model's output columns {missing} are not in its transform's result "
                f"{transformed.columns}; its signature does not match the model"
            )
        collected = transformed.select(*outputs).collect()
        result = pd.DataFrame(
            {c: [_python_output(row[i]) for row in collected] for i, c in enumerate(outputs)},
            index=data.index,
        )
        return result[outputs[0]] if len(outputs) == 1 else result


def _read_mlmodel(location: ModelLocation, model_uri: str) -> Model:
    try:
        text = location.read_bytes(MLMODEL_FILE)
    except NotFoundError as exc:
        raise NotFoundError(
            f"no model at {model_uri!r}: {location} has no MLmodel file. Give the folder "
            "save_model wrote, or runs:/<run_id>/<artifact_path> of a logged model"
        ) from exc
    return Model.from_yaml(text, source=f"MLmodel of {model_uri!r}")


def load_model(model_uri: str, *, client: TrackingClient | None = None) -> LoadedModel:
    """Load a Spark model from ``runs:/<run_id>/<path>``, a local folder or a Hadoop URI.

    ``client`` resolves ``runs:/`` URIs (default: the fluent API's client).
    """
    location = resolve_model_uri(model_uri, client)
    metadata = _read_mlmodel(location, str(model_uri))
    source = f"MLmodel of {model_uri!r}"
    flavor = metadata.flavor(FLAVOR_NAME)
    if "h2o_mojo" in metadata.flavors:
        from sparktrack.models._h2o_flavor import prepare_load

        prepare_load()
    spark_model = load_spark_model(location, flavor, source)
    return LoadedModel(metadata=metadata, spark_model=spark_model, source=str(model_uri))
