"""What a fitted H2O MOJO model knows about its training, as metrics and artifacts.

* ``getTrainingMetrics()`` / ``getValidationMetrics()`` / ``getCrossValidationMetrics()``
  -> ``training_<name>``, ``validation_<name>``, ``cv_<name>`` (NaN kept as IEEE NaN);
* the scoring history -> one series per numeric column, step = trees / epochs /
  iterations when H2O reports them, else the row number;
* the feature importances, ``getCrossValidationMetricsSummary()`` -> CSV artifacts;
* ``getModelDetails()`` (JSON) -> ``model_details.json``, capped at 1 MB.

The scoring history and the feature importances are read from the model details JSON,
fetched once: Sparkling Water builds its ``getScoringHistory()`` and
``getFeatureImportances()`` DataFrames from the same two tables (``scoring_history``,
``variable_importances``), and reading them there costs no Spark query per table.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from sparktrack.tracking import Metric, TrackingClient

__all__ = ["h2o_stages", "is_h2o_mojo_model", "log_model_details", "safe_key"]

MAX_DETAILS_BYTES = 1_000_000
_METRIC_GETTERS = (
    ("training_", "getTrainingMetrics"),
    ("validation_", "getValidationMetrics"),
    ("cv_", "getCrossValidationMetrics"),
)
# A timestamp in milliseconds, not a quality measure.
_SKIPPED_METRICS = frozenset({"ScoringTime"})
# H2O's TwoDimTable column types that hold numbers (the others are strings).
_NUMERIC_TYPES = frozenset({"double", "float", "long", "int"})
# Columns of the scoring history that count training progress (the step of a series).
_STEP_COLUMNS = ("number_of_trees", "epochs", "iterations", "number_of_iterations")
_KEY_UNSAFE = re.compile(r"[^/\w.\- :]")


def safe_key(text: str) -> str:
    return _KEY_UNSAFE.sub("_", str(text))[:250]


def is_h2o_mojo_model(model: Any) -> bool:
    # Duck-typed: the MOJO model classes share no single importable base besides
    # their params mixins, and autolog must not import pysparkling to recognise them.
    return type(model).__module__.startswith("ai.h2o.sparkling.") and hasattr(
        model, "getTrainingMetrics"
    )


def h2o_stages(model: Any) -> list[Any]:
    """The H2O MOJO models in ``model`` (itself, or stages of a PipelineModel)."""
    from pyspark.ml import PipelineModel

    if isinstance(model, PipelineModel):
        return [s for stage in model.stages for s in h2o_stages(stage)]
    return [model] if is_h2o_mojo_model(model) else []


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def metric_values(model: Any) -> dict[str, float]:
    """training_/validation_/cv_ metrics of one MOJO model."""
    metrics: dict[str, float] = {}
    for prefix, getter in _METRIC_GETTERS:
        values = getattr(model, getter)() or {}
        for name, value in values.items():
            number = _number(value)
            if name not in _SKIPPED_METRICS and number is not None:
                metrics[safe_key(prefix + name)] = number
    return metrics


def _column_key(column: str) -> str:
    return re.sub(r"\W+", "_", column.strip().lower()).strip("_")


def details_table(details: Mapping[str, Any], name: str) -> pd.DataFrame | None:
    """One of H2O's TwoDimTables in a model's details JSON as pandas; None if absent.

    The columns are those Sparkling Water gives its DataFrame of it: headers are the
    columns' descriptions, and the unnamed row-header column is left out.
    """
    table = details.get(name)
    if not isinstance(table, Mapping) or not isinstance(table.get("columns"), list):
        return None
    frame: dict[str, list[Any]] = {}
    for column, values in zip(table["columns"], table.get("data") or [], strict=False):
        header = str(column.get("description") or column.get("name") or "")
        if not header:
            continue
        numeric = column.get("type") in _NUMERIC_TYPES
        frame[header] = [_number(v) if numeric else v for v in values]
    return pd.DataFrame(frame)


def scoring_history_series(history: pd.DataFrame | None) -> dict[str, list[tuple[int, float]]]:
    """``scoring_<column>`` -> [(step, value)] from the model's scoring history."""
    if history is None or history.empty:
        return {}
    keys = {column: _column_key(column) for column in history.columns}
    steps: list[int] = list(range(len(history)))
    step_column = next((c for c, k in keys.items() if k in _STEP_COLUMNS), None)
    if step_column is not None:
        values = [_number(v) for v in history[step_column]]
        # Epochs can be fractional: a step must be an integer, so keep row numbers then.
        if all(v is not None and not math.isnan(v) and v.is_integer() for v in values):
            steps = [int(v) for v in values if v is not None]
    series: dict[str, list[tuple[int, float]]] = {}
    for column in history.columns:
        if column == step_column or getattr(history[column].dtype, "kind", "O") not in "iuf":
            continue  # Timestamp and Duration are strings
        series[safe_key(f"scoring_{keys[column]}")] = [
            (step, float(v)) for step, v in zip(steps, history[column], strict=True)
        ]
    return series


def _parsed(details: str) -> dict[str, Any]:
    try:
        parsed = json.loads(details)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _csv(data: pd.DataFrame | None) -> str | None:
    return None if data is None or data.empty else data.to_csv(index=False)


def log_model_details(client: TrackingClient, run_id: str, model: Any, prefix: str = "") -> None:
    """Log everything above for one MOJO model; ``prefix`` tells stages apart."""
    stamp = _now_ms()
    details = str(model.getModelDetails() or "")
    tables = _parsed(details)
    metrics = [Metric(prefix + k, v, stamp, 0) for k, v in metric_values(model).items()]
    history = details_table(tables, "scoring_history")
    for key, points in scoring_history_series(history).items():
        metrics.extend(Metric(prefix + key, value, stamp, step) for step, value in points)
    if metrics:
        client.log_batch(run_id, metrics=metrics)
    folder = prefix.rstrip(".") + "/" if prefix else ""
    importances = _csv(details_table(tables, "variable_importances"))
    if importances is not None:
        client.log_text(run_id, importances, f"{folder}feature_importances.csv")
    cv_summary = model.getCrossValidationMetricsSummary()  # a DataFrame only with folds
    summary = _csv(cv_summary.toPandas() if cv_summary is not None else None)
    if summary is not None:
        client.log_text(run_id, summary, f"{folder}cv_metrics_summary.csv")
    if details:
        client.log_text(run_id, _capped(details), f"{folder}model_details.json")


def _capped(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= MAX_DETAILS_BYTES:
        return text
    kept = data[:MAX_DETAILS_BYTES].decode("utf-8", errors="ignore")
    # No longer valid JSON: say so at the end rather than silently cutting.
    return f"{kept}\n... [truncated by sparktrack: {len(data)} bytes, first {len(kept)} kept]\n"


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
