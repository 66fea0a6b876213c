"""Metrics from a fitted model's training summary, found by introspection.

Every numeric property of the summary becomes a metric (``accuracy``,
``areaUnderROC``, ``rootMeanSquaredError``, ``r2``, ``trainingCost``, ...); per-label
lists become one metric per label (``precisionByLabel_1``); per-iteration series
(``objectiveHistory``) become one metric with a step per iteration. DataFrames and
anything that is not a number are skipped, and so is anything that fails: a summary
property that cannot be computed for this model is simply absent.
"""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["fitted_models_with_summary", "summary_metrics"]

# Methods with defaults that give useful single numbers (properties are found automatically).
_METHODS = ("weightedFMeasure",)
_PER_LABEL_METHODS = ("fMeasureByLabel",)
_SKIP = {
    "predictions",
    "labels",
    "numInstances",
    "degreesOfFreedom",
    "residualDegreeOfFreedom",
    "residualDegreeOfFreedomNull",
    "cluster",
    "clusterSizes",
    "probability",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _labels(summary: Any) -> list[str]:
    try:
        return [
            str(int(label)) if float(label).is_integer() else str(label) for label in summary.labels
        ]
    except Exception:
        return []


def summary_metrics(summary: Any) -> tuple[dict[str, float], dict[str, list[float]]]:
    """(single metrics, per-iteration series) of a training summary."""
    singles: dict[str, float] = {}
    series: dict[str, list[float]] = {}
    labels: list[str] | None = None
    names = [n for n in dir(type(summary)) if not n.startswith("_") and n not in _SKIP]
    for name in names:
        attribute = getattr(type(summary), name, None)
        try:
            if isinstance(attribute, property):
                value = getattr(summary, name)
            elif name in _METHODS or name in _PER_LABEL_METHODS:
                value = getattr(summary, name)()
            else:
                continue
        except Exception:
            continue
        if _is_number(value):
            singles[name] = float(value)
        elif isinstance(value, (list, tuple)) and value and all(_is_number(v) for v in value):
            if "History" in name or "history" in name:
                series[name] = [float(v) for v in value]
            elif name.endswith("ByLabel"):
                labels = _labels(summary) if labels is None else labels
                for label, v in zip(labels or range(len(value)), value, strict=False):
                    singles[f"{name}_{label}"] = float(v)
            elif name == "coefficientStandardErrors" or len(value) <= 100:
                for i, v in enumerate(value):
                    singles[f"{name}_{i}"] = float(v)
    # NaN and infinite values (an undefined p-value, say) are stored as they are.
    return singles, series


def fitted_models_with_summary(model: Any) -> list[tuple[str, Any]]:
    """(label, summary) for the model, or for each stage of a PipelineModel that has one."""
    from pyspark.ml import PipelineModel

    stages: list[Any] = list(model.stages) if isinstance(model, PipelineModel) else [model]
    found: list[tuple[str, Any]] = []
    for stage in stages:
        try:
            if getattr(stage, "hasSummary", False):
                found.append((type(stage).__name__, stage.summary))
        except Exception:
            continue
    return found
