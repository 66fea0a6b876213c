"""A pandas input checked against a model's signature, and converted for scoring.

The conversion rules are MLflow's, plus lossless int64 -> double / integer (MLflow
refuses int64 -> double outright, though pandas makes every integer column int64).
A bad input fails here in milliseconds, with a message naming the column, instead of
deep inside a Spark job. Two targets: rows and a schema for a Spark DataFrame
(``enforce_signature``, ``infer_rows``), and numpy columns for the local scorer
(``local_columns``).

pyspark is imported inside the functions that need it: importing sparktrack must not
load it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sparktrack.errors import InvalidInputError
from sparktrack.models._local_scorer import LocalScorer, LocalScoringUnsupported
from sparktrack.models._signature import (
    ARRAY,
    SPARKML_VECTOR,
    ColSpec,
    ModelSignature,
    spark_type_for,
)

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

__all__ = ["enforce_signature", "infer_rows", "local_columns"]

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


def _all_numbers(series: pd.Series) -> bool:
    """Every value a number; booleans are not (Python's bool is an int subclass)."""
    return all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in series.dropna()
    )


def _numeric_series(spec: ColSpec, series: pd.Series) -> pd.Series:
    """The column as numbers, if it converts to the signature's type without loss."""
    if series.dtype == object and _all_numbers(series):
        series = series.infer_objects()  # Python numbers in an object column
        if series.dtype == object:  # nothing but nulls: missing values, for the model to judge
            return series.astype(np.float64)
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind not in ("i", "u", "f"):
        raise _bad_type(spec, series)
    if spec.type in ("double", "float"):
        if kind == "f":
            if spec.type == "float" and getattr(dtype, "itemsize", 8) > 4:
                raise _bad_type(spec, series, "; a double cannot become a float without loss")
            return series
        # int -> double: MLflow's rule is itemsize <= 4; int64 too when every value fits.
        if getattr(dtype, "itemsize", 8) <= 4 or _within(
            series, -_EXACT_DOUBLE_INT, _EXACT_DOUBLE_INT
        ):
            return series
        raise _bad_type(spec, series, "; its values are too large to be doubles exactly")
    if kind == "f":
        raise _bad_type(spec, series, "; floats do not become integers without loss")
    if spec.type == "integer" and not _within(series, *_INT32):
        raise _bad_type(spec, series, "; its values do not fit a 32-bit integer")
    if spec.type == "long" and not _within(series, -(2**63), 2**63 - 1):
        raise _bad_type(spec, series, "; its values do not fit a 64-bit integer")
    return series


def _numeric_column(spec: ColSpec, series: pd.Series) -> list[Any]:
    """Numbers of the signature's type; only conversions that lose nothing."""
    series = _numeric_series(spec, series)
    return _python_values(series, float if spec.type in ("double", "float") else int)


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


def _check_vectors(spec: ColSpec, series: pd.Series) -> None:
    from pyspark.ml.linalg import Vector

    if series.dtype != object or not _all_instances(series, (Vector, list, tuple, np.ndarray)):
        raise _bad_type(spec, series, "; pass a list of numbers or a pyspark.ml vector per row")


def _vector_column(spec: ColSpec, series: pd.Series) -> list[Any]:
    _check_vectors(spec, series)
    try:
        return _python_values(series, _to_vector)
    except (TypeError, ValueError) as exc:
        raise _bad_type(spec, series, f"; a row is not a list of numbers ({exc})") from exc


def _present_inputs(frame: pd.DataFrame, signature: ModelSignature) -> list[ColSpec]:
    """The signature's input columns that ``frame`` has.

    Raises InvalidInputError if a required one is missing.
    """
    if any(spec.name is None for spec in signature.inputs):
        raise InvalidInputError(
            "the model's signature has unnamed input columns; sparktrack scores "
            "DataFrames by column name, re-log the model with a named signature"
        )
    present = []
    for spec in signature.inputs:
        if spec.name in frame.columns:
            present.append(spec)
        elif spec.required:
            raise InvalidInputError(
                f"input column {spec.name!r} ({spec.describe()}) is required by the "
                f"model signature but missing; the input has columns {list(frame.columns)}"
            )
    # Extra columns are dropped, as in MLflow: the model sees only what it declared.
    return present


def enforce_signature(frame: pd.DataFrame, signature: ModelSignature) -> tuple[list[Any], Any]:
    """(rows, Spark schema) of the signature's columns; InvalidInputError on a mismatch."""
    from pyspark.sql.types import StructField, StructType

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"predict takes a pandas DataFrame, got {type(frame).__name__}")
    columns: dict[str, list[Any]] = {}
    fields = []
    for spec in _present_inputs(frame, signature):
        assert spec.name is not None
        columns[spec.name] = _column_values(spec, frame[spec.name])
        fields.append(StructField(spec.name, spark_type_for(spec), nullable=True))
    rows = list(zip(*columns.values(), strict=True)) if columns else [() for _ in frame.index]
    return rows, StructType(fields)


def infer_rows(frame: pd.DataFrame) -> tuple[list[Any], StructType]:
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


# -- columns for the local scorer ---------------------------------------------------------
def _float_array(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _vector_array(series: pd.Series, name: str) -> np.ndarray:
    """Rows x size; LocalScoringUnsupported for nulls or ragged rows (Spark decides those)."""
    rows = []
    for value in series.tolist():
        if value is None or (isinstance(value, float) and np.isnan(value)):
            raise LocalScoringUnsupported(f"a null vector in column {name!r}")
        try:
            rows.append(np.asarray(value.toArray() if hasattr(value, "toArray") else value, float))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"input column {name!r} must hold a list of numbers per row ({exc})"
            ) from None
    if len({row.shape for row in rows}) > 1 or any(row.ndim != 1 for row in rows):
        raise LocalScoringUnsupported(f"vectors of different sizes in column {name!r}")
    return np.vstack(rows) if rows else np.zeros((0, 0))


def _local_array(spec: ColSpec, series: pd.Series) -> np.ndarray:
    """The column checked against its signature type, as the local scorer holds it."""
    assert spec.name is not None
    kind = spec.type
    if kind in ("double", "float", "integer", "long"):
        return _numeric_series(spec, series).to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "boolean":
        return _float_array(_column_values(spec, series))
    if kind == "string":
        return np.array(_column_values(spec, series), dtype=object)
    if kind == SPARKML_VECTOR:
        _check_vectors(spec, series)
        return _vector_array(series, spec.name)
    _column_values(spec, series)  # the type check, with its message
    raise LocalScoringUnsupported(f"input column {spec.name!r} of type {spec.describe()}")


def _inferred_array(series: pd.Series, name: str) -> np.ndarray:
    """A column of a model without a signature, typed from pandas as _infer_rows types it."""
    from pyspark.ml.linalg import Vector

    kind = getattr(series.dtype, "kind", "O")
    if kind == "b":  # kept boolean: a stage reading numbers refuses it (see _scalar)
        if series.isna().any():
            raise LocalScoringUnsupported(f"nulls in the boolean column {name!r}")
        return series.to_numpy(dtype=bool)
    if kind in "iuf":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if series.notna().any() and _all_instances(series, (Vector, list, tuple, np.ndarray)):
        return _vector_array(series, name)
    if kind == "M" or not _all_instances(series, (str,)):
        raise LocalScoringUnsupported(f"input column {name!r} of dtype {series.dtype}")
    return np.array(_python_values(series), dtype=object)


def local_columns(
    frame: pd.DataFrame, signature: ModelSignature | None, scorer: LocalScorer
) -> dict[str, np.ndarray]:
    if signature is not None and signature.inputs:
        return {
            str(spec.name): _local_array(spec, frame[spec.name])
            for spec in _present_inputs(frame, signature)
        }
    return {
        name: _inferred_array(frame[name], name)
        for name in scorer.accepted_inputs
        if name in frame.columns
    }
