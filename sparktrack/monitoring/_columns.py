"""Which columns a model reads and writes, and how each one is summarised.

A column is *numeric* (Spark's numeric types: quantiles, binned histogram) or
*categorical* (strings and booleans: category frequencies); other types (vectors,
arrays, maps, dates) are not profiled and are listed as skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sparktrack.errors import InvalidInputError
from sparktrack.models import model_stages, output_column, stage_param, written_columns

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import DataType

__all__ = [
    "Kind",
    "ModelColumns",
    "Task",
    "column_kind",
    "inferred_label",
    "model_columns",
]

Kind = Literal["numeric", "categorical"]
Task = Literal["classification", "regression", "other"]


@dataclass(frozen=True)
class ModelColumns:
    """The columns of one profile or monitoring pass, each with its kind."""

    features: dict[str, Kind]
    skipped: dict[str, str]
    prediction: str
    prediction_kind: Kind
    task: Task
    label: str | None
    label_kind: Kind | None


def column_kind(data_type: DataType) -> Kind | None:
    """``numeric``, ``categorical``, or None for a type that is not profiled."""
    from pyspark.sql.types import BooleanType, NumericType, StringType

    if isinstance(data_type, BooleanType | StringType):
        return "categorical"
    if isinstance(data_type, NumericType):
        return "numeric"
    return None


def _task(model: Any, prediction_type: DataType) -> Task:
    from pyspark.sql.types import DoubleType, FloatType

    stages = model_stages(model)
    last = stages[-1] if stages else model
    if stage_param(last, "rawPredictionCol") or stage_param(last, "probabilityCol"):
        return "classification"
    if isinstance(prediction_type, DoubleType | FloatType):
        return "regression"
    return "other"  # clusters, indices: a categorical output without a label to judge it


def inferred_label(model: Any, columns: list[str]) -> str | None:
    """The label column the model was trained on, if it names one and ``df`` has it."""
    for stage in reversed(model_stages(model)):
        label = stage_param(stage, "labelCol")
        if isinstance(label, str) and label in columns:
            return label
    return None


def model_columns(
    model: Any,
    scored: DataFrame,
    feature_names: list[str] | None,
    label_col: str | None,
    exclude: tuple[str, ...] = (),
) -> ModelColumns:
    """What to summarise of ``scored`` (the model's transform of the data).

    Args:
        model: The fitted pyspark.ml model.
        scored: ``model.transform(df)``.
        feature_names: The model's input columns (its signature's); None: every column
            of the input except the label and ``exclude``.
        label_col: The label column, if any.
        exclude: Columns that are neither features nor labels (a timestamp).

    Raises:
        InvalidInputError: The label or a feature column is not in the data.
    """
    types = {f.name: f.dataType for f in scored.schema.fields}
    prediction = output_column(model)
    if prediction not in types:
        raise InvalidInputError(
            f"the model's output column {prediction!r} is not in its transform's output "
            f"{sorted(types)}"
        )
    if label_col is not None and label_col not in types:
        raise InvalidInputError(
            f"label column {label_col!r} is not in the data, whose columns are "
            f"{sorted(types)}; pass label_col= one of them, or leave it out"
        )
    if feature_names is None:
        written = {c for s in model_stages(model) for c in written_columns(s)}
        feature_names = [
            n for n in types if n not in written and n != label_col and n not in exclude
        ]
    missing = [n for n in feature_names if n not in types]
    if missing:
        raise InvalidInputError(
            f"the model reads columns {missing}, which the data does not have "
            f"(it has {sorted(types)})"
        )
    features: dict[str, Kind] = {}
    skipped: dict[str, str] = {}
    for name in feature_names:
        kind = column_kind(types[name])
        if kind is None:
            skipped[name] = f"{types[name].simpleString()} columns are not profiled"
        else:
            features[name] = kind
    task = _task(model, types[prediction])
    prediction_kind: Kind = "numeric" if task == "regression" else "categorical"
    label_kind: Kind | None = None
    if label_col is not None:
        label_kind = "numeric" if task == "regression" else "categorical"
    return ModelColumns(features, skipped, prediction, prediction_kind, task, label_col, label_kind)
