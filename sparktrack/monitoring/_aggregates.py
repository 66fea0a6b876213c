"""The Spark side: aggregate expressions for profiles and monitoring passes.

Every statistic of a pass is one aggregate expression, so a pass over the data is one
``agg`` (or one ``groupBy(window).agg`` per time window): Spark reads the data once
whatever the number of columns. Missing means null, or NaN in a floating-point column.

pyspark is imported inside the functions: importing sparktrack must not load it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sparktrack.monitoring._columns import Kind, Task

if TYPE_CHECKING:
    from pyspark.sql import Column

__all__ = [
    "LARGER_IS_BETTER",
    "QUANTILE_ACCURACY",
    "QUANTILE_PROBABILITIES",
    "Aggregates",
    "bin_index",
    "column",
    "metric_sums",
    "metrics_from_sums",
    "value",
]

# 101 points, 0 to 1 in steps of 0.01: the minimum, the percentiles, the maximum. Enough
# for the KS statistic to 1 % and for decile bins.
QUANTILE_PROBABILITIES: list[float] = [round(i / 100, 2) for i in range(101)]
# percentile_approx's accuracy: relative rank error 1 / accuracy (Spark's default 10000).
QUANTILE_ACCURACY = 10_000


def column(name: str) -> Column:
    """The column called ``name``, whatever characters its name holds."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def value(name: str, kind: Kind) -> Column:
    """The column's values as profiled: doubles (NaN as null) or strings."""
    from pyspark.sql import functions as F

    if kind == "categorical":
        return column(name).cast("string")
    as_double = column(name).cast("double")
    return F.when(~F.isnan(as_double), as_double)


def bin_index(values: Column, edges: Sequence[float]) -> Column:
    """The histogram bin of each value: bin i holds ``edges[i-1] < x <= edges[i]``."""
    from pyspark.sql import functions as F

    chosen = F.when(values.isNull(), F.lit(None))
    for i, edge in enumerate(edges):
        chosen = chosen.when(values <= F.lit(float(edge)), F.lit(i))
    return chosen.otherwise(F.lit(len(edges)))


class Aggregates:
    """Aggregate expressions collected for one ``agg``, each under a generated alias."""

    def __init__(self) -> None:
        self.columns: list[Column] = []

    def add(self, expression: Column) -> str:
        """Add an expression; returns the key of its value in ``read``'s result."""
        alias = f"_a{len(self.columns)}"
        self.columns.append(expression.alias(alias))
        return alias

    @staticmethod
    def read(row: Any) -> dict[str, Any]:
        """A result row as a plain dict (the values by alias)."""
        return row.asDict(recursive=True)


def metric_sums(aggregates: Aggregates, task: Task, prediction: str, label: str) -> dict[str, str]:
    """Add the sums the model's metrics are computed from; returns their keys by name."""
    from pyspark.sql import functions as F

    p = column(prediction).cast("double")
    y = column(label).cast("double")
    both = p.isNotNull() & y.isNotNull() & ~F.isnan(p) & ~F.isnan(y)
    keys = {"n": aggregates.add(F.count(F.when(both, 1)))}
    if task == "classification":
        keys["correct"] = aggregates.add(F.count(F.when(both & (p == y), 1)))
        keys["true_positive"] = aggregates.add(F.count(F.when(both & (p == 1) & (y == 1), 1)))
        keys["predicted_positive"] = aggregates.add(F.count(F.when(both & (p == 1), 1)))
        keys["actual_positive"] = aggregates.add(F.count(F.when(both & (y == 1), 1)))
        keys["binary"] = aggregates.add(F.count(F.when(both & ~y.isin(0.0, 1.0), 1)))
    elif task == "regression":
        error = F.when(both, p - y)
        keys["squared_error"] = aggregates.add(F.sum(error * error))
        keys["absolute_error"] = aggregates.add(F.sum(F.abs(error)))
        keys["label_sum"] = aggregates.add(F.sum(F.when(both, y)))
        keys["label_squares"] = aggregates.add(F.sum(F.when(both, y * y)))
    return keys


def metrics_from_sums(task: Task, sums: dict[str, Any]) -> dict[str, float]:
    """The model's metrics from ``metric_sums``' values (empty without labelled rows).

    Classification: accuracy, and for 0/1 labels precision, recall and f1 of class 1.
    Regression: rmse, mae and r2.
    """
    n = int(sums.get("n") or 0)
    if n == 0:
        return {}
    if task == "classification":
        metrics = {"accuracy": sums["correct"] / n}
        if int(sums["binary"]) == 0:  # every label is 0 or 1
            tp = float(sums["true_positive"])
            predicted, actual = float(sums["predicted_positive"]), float(sums["actual_positive"])
            precision = tp / predicted if predicted else 0.0
            recall = tp / actual if actual else 0.0
            metrics["precision"] = precision
            metrics["recall"] = recall
            total = precision + recall
            metrics["f1"] = 2 * precision * recall / total if total else 0.0
        return metrics
    if task == "regression":
        squared = float(sums["squared_error"] or 0.0)
        mean = float(sums["label_sum"] or 0.0) / n
        total = float(sums["label_squares"] or 0.0) - n * mean * mean
        metrics = {
            "rmse": (squared / n) ** 0.5,
            "mae": float(sums["absolute_error"] or 0.0) / n,
        }
        if total > 0:
            metrics["r2"] = 1.0 - squared / total
        return metrics
    return {}


# Whether a larger value of a metric is better: decay is a move the other way.
LARGER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "r2": True,
    "rmse": False,
    "mae": False,
}
