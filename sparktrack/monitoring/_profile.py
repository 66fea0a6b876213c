"""Profiling a model's data: one Spark pass over ``model.transform(df)``.

The pass is one ``groupBy``. Each row is exploded into entries: one per profiled
column, numeric columns as (column, value) and strings and booleans as (column,
category); one that counts the row; and, with labels, those the model's metrics are
summed from. Numeric entries group on their column alone, so their group's aggregates
are the column's quantile sketch, mean and standard deviation; categorical entries
group on (column, category), which counts the categories. A window keeps each column's
most frequent categories, so only those reach the driver.

A numeric column's histogram is read off its sketch: the bins are the deciles and a
bin's count is the mass the sketch puts between two edges. The sketch is asked at
10,001 probabilities for that, so a count is off by at most ``2 * BIN_COUNT_ERROR``
of the rows (the probabilities' step plus ``percentile_approx``'s rank error, at each
of the bin's two edges). Exact counts would need the deciles before the counting: a
second pass.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparktrack.errors import InvalidInputError
from sparktrack.monitoring._aggregates import (
    QUANTILE_ACCURACY,
    QUANTILE_PROBABILITIES,
    column,
    metrics_from_sums,
    value,
)
from sparktrack.monitoring._columns import Kind, ModelColumns, Task, inferred_label, model_columns
from sparktrack.monitoring._profile_format import ColumnProfile, Profile

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["BIN_COUNT_ERROR", "TOP_K", "decile_edges", "profile_frame", "summarised_columns"]

# Categories kept per column; the rest of a column's values count as "other".
TOP_K = 30
_DECILES = range(10, 100, 10)  # indices of 0.1 ... 0.9 in QUANTILE_PROBABILITIES
# The probabilities the sketch is read at for the histograms: steps of 1e-4, as fine as
# the sketch's own rank error (1 / QUANTILE_ACCURACY). Every hundredth is one of
# QUANTILE_PROBABILITIES (the same doubles), so one sketch answers both.
_RANK_STEPS = 10_000
_RANK_PROBABILITIES: list[float] = [i / _RANK_STEPS for i in range(_RANK_STEPS + 1)]
_PER_QUANTILE = _RANK_STEPS // (len(QUANTILE_PROBABILITIES) - 1)
# Share of the rows by which the count of values at or below an edge may be off.
BIN_COUNT_ERROR = 1 / _RANK_STEPS + 1 / QUANTILE_ACCURACY

# Entry columns below 0: not a profiled column.
_ROWS = -1  # one per row: the row count
_OUTCOMES = -2  # classification: one per labelled row, its outcome's code
_ERRORS = -2  # regression: prediction - label
_ABSOLUTE_ERRORS = -3  # regression: |prediction - label|
_LABELS = -4  # regression: the label, where the prediction is there too

# Bits of a classification outcome's code.
_CORRECT, _PREDICTED_POSITIVE, _ACTUAL_POSITIVE, _NOT_BINARY = 1, 2, 4, 8


def decile_edges(quantiles: list[float] | None) -> list[float]:
    """The bin edges of a numeric column: its distinct deciles (none if it has no values)."""
    if not quantiles:
        return []
    return sorted({float(quantiles[i]) for i in _DECILES})


def summarised_columns(columns: ModelColumns) -> dict[str, Kind]:
    """Every column a pass summarises: features, prediction, label."""
    kinds: dict[str, Kind] = dict(columns.features)
    kinds[columns.prediction] = columns.prediction_kind
    if columns.label is not None and columns.label_kind is not None:
        kinds[columns.label] = columns.label_kind
    return kinds


def _entry(index: int, category: Column | None = None, number: Column | None = None) -> Column:
    from pyspark.sql import functions as F

    return F.struct(
        F.lit(index).alias("c"),
        (category if category is not None else F.lit(None).cast("string")).alias("s"),
        (number if number is not None else F.lit(None).cast("double")).alias("x"),
    )


def _metric_entries(task: Task, prediction: str, label: str) -> list[Column]:
    """The entries the model's metrics are summed from (``metrics_from_sums``' inputs)."""
    from pyspark.sql import functions as F

    p = column(prediction).cast("double")
    y = column(label).cast("double")
    both = p.isNotNull() & y.isNotNull() & ~F.isnan(p) & ~F.isnan(y)
    if task == "classification":
        code = (
            F.when(p == y, _CORRECT).otherwise(0)
            + F.when(p == 1, _PREDICTED_POSITIVE).otherwise(0)
            + F.when(y == 1, _ACTUAL_POSITIVE).otherwise(0)
            + F.when(~y.isin(0.0, 1.0), _NOT_BINARY).otherwise(0)
        )
        return [_entry(_OUTCOMES, category=F.when(both, code.cast("string")))]
    if task == "regression":
        error = F.when(both, p - y)
        return [
            _entry(_ERRORS, number=error),
            _entry(_ABSOLUTE_ERRORS, number=F.abs(error)),
            _entry(_LABELS, number=F.when(both, y)),
        ]
    return []


@dataclass
class _Group:
    """One group of the pass: a numeric column, a category of a column, or a metric."""

    count: int
    present: int
    ranks: list[float] | None
    mean: float | None
    std: float | None
    total: float | None
    squares: float | None
    distinct: int  # groups of the entry column
    column_count: int  # entries of the entry column (a column's values present)


def _profile_pass(
    scored: DataFrame, kinds: dict[str, Kind], metric_entries: list[Column]
) -> dict[int, dict[str | None, _Group]]:
    """The groups of the one pass over ``scored``, by entry column and category."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    entries = [_entry(_ROWS), *metric_entries]
    for i, (name, kind) in enumerate(kinds.items()):
        values = value(name, kind)
        entries.append(_entry(i, number=values) if kind == "numeric" else _entry(i, values))
    x = F.col("x")
    groups = (
        scored.select(F.explode(F.array(*entries)).alias("e"))
        .select("e.c", "e.s", "e.x")
        # A missing value counts only as a row not present.
        .where(x.isNotNull() | F.col("s").isNotNull() | (F.col("c") == _ROWS))
        .groupBy("c", "s")
        .agg(
            F.count(F.lit(1)).alias("count"),
            F.count(x).alias("present"),
            F.percentile_approx(x, _RANK_PROBABILITIES, QUANTILE_ACCURACY).alias("ranks"),
            F.avg(x).alias("mean"),
            F.stddev_samp(x).alias("std"),
            F.sum(x).alias("total"),
            F.sum(x * x).alias("squares"),
        )
    )
    by_column = Window.partitionBy("c")
    kept = groups.select(
        "*",
        F.row_number().over(by_column.orderBy(F.desc("count"), F.asc("s"))).alias("rank"),
        F.count(F.lit(1)).over(by_column).alias("distinct"),
        F.sum("count").over(by_column).alias("column_count"),
    ).where(F.col("rank") <= TOP_K)
    found: dict[int, dict[str | None, _Group]] = {}
    for row in kept.orderBy("c", "rank").collect():
        found.setdefault(row["c"], {})[row["s"]] = _Group(
            count=int(row["count"]),
            present=int(row["present"]),
            ranks=row["ranks"],
            mean=row["mean"],
            std=row["std"],
            total=row["total"],
            squares=row["squares"],
            distinct=int(row["distinct"]),
            column_count=int(row["column_count"]),
        )
    return found


def _metric_sums(task: Task, found: dict[int, dict[str | None, _Group]]) -> dict[str, Any]:
    if task == "classification":
        outcomes = {int(code): g.count for code, g in found.get(_OUTCOMES, {}).items() if code}

        def having(*bits: int) -> int:
            return sum(n for code, n in outcomes.items() if all(code & b for b in bits))

        return {
            "n": sum(outcomes.values()),
            "correct": having(_CORRECT),
            "true_positive": having(_PREDICTED_POSITIVE, _ACTUAL_POSITIVE),
            "predicted_positive": having(_PREDICTED_POSITIVE),
            "actual_positive": having(_ACTUAL_POSITIVE),
            "binary": having(_NOT_BINARY),
        }
    if task == "regression":
        errors = found.get(_ERRORS, {}).get(None)
        absolute = found.get(_ABSOLUTE_ERRORS, {}).get(None)
        labels = found.get(_LABELS, {}).get(None)
        if errors is None or absolute is None or labels is None:
            return {"n": 0}
        return {
            "n": errors.present,
            "squared_error": errors.squares,
            "absolute_error": absolute.total,
            "label_sum": labels.total,
            "label_squares": labels.squares,
        }
    return {}


def _finite(number: Any) -> float | None:
    # JSON has no NaN: a standard deviation of one value (NaN in Spark) is unknown.
    return float(number) if number is not None and math.isfinite(number) else None


def _bin_counts(ranks: list[float], edges: list[float], present: int) -> list[int]:
    """Values per bin, read off the sketch: the mass at or below each edge."""
    at_or_below = []
    for edge in edges:
        # The last probability whose value is <= edge: the share of values <= edge.
        step = bisect.bisect_right(ranks, edge) - 1
        at_or_below.append(round(_RANK_PROBABILITIES[max(step, 0)] * present))
    bounds = [0, *at_or_below, present]
    return [max(b - a, 0) for a, b in itertools.pairwise(bounds)]


def _numeric_profile(type_name: str, total: int, group: _Group | None) -> ColumnProfile:
    if group is None or not group.ranks:
        return ColumnProfile(
            kind="numeric", type=type_name, count=total, missing=total, bin_edges=[], bin_counts=[0]
        )
    ranks = [float(r) for r in group.ranks]
    quantiles = ranks[::_PER_QUANTILE]
    edges = decile_edges(quantiles)
    return ColumnProfile(
        kind="numeric",
        type=type_name,
        count=total,
        missing=total - group.present,
        mean=_finite(group.mean),
        std=_finite(group.std),
        quantiles=quantiles,
        bin_edges=edges,
        bin_counts=_bin_counts(ranks, edges, group.present),
    )


def _categorical_profile(
    type_name: str, total: int, groups: dict[str | None, _Group]
) -> ColumnProfile:
    # Only the TOP_K commonest categories reach the driver; the window counted them all.
    found = [(category, g.count) for category, g in groups.items() if category is not None]
    first = next(iter(groups.values()), None)
    present = first.column_count if first is not None else 0
    return ColumnProfile(
        kind="categorical",
        type=type_name,
        count=total,
        missing=total - present,
        categories=[v for v, _ in found],
        category_counts=[c for _, c in found],
        other_count=present - sum(c for _, c in found),
        distinct=first.distinct if first is not None else 0,
    )


def profile_frame(
    model: Any,
    df: DataFrame,
    *,
    feature_names: list[str] | None,
    label_col: str | None = None,
    infer_label: bool = False,
) -> Profile:
    """Profile ``df`` as the model sees it: its inputs, predictions and labels.

    Args:
        model: The fitted pyspark.ml model.
        df: The data (training data for a baseline).
        feature_names: The model's input columns; None: every column of ``df`` but
            the label and the model's outputs.
        label_col: The label column, if any.
        infer_label: Without ``label_col``, use the label column the model was trained
            on when ``df`` has it.

    Raises:
        InvalidInputError: A column is missing, or ``df`` has no rows.
    """
    if label_col is None and infer_label:
        label_col = inferred_label(model, df.columns)
    scored = model.transform(df)
    columns = model_columns(model, scored, feature_names, label_col)
    kinds = summarised_columns(columns)
    types = {f.name: f.dataType.simpleString() for f in scored.schema.fields}
    metric_entries = (
        _metric_entries(columns.task, columns.prediction, columns.label)
        if columns.label is not None
        else []
    )
    found = _profile_pass(scored, kinds, metric_entries)
    rows = found.get(_ROWS, {}).get(None)
    total = rows.count if rows is not None else 0
    if total == 0:
        raise InvalidInputError("the DataFrame to profile has no rows; profile the training data")
    profiles = {
        name: (
            _numeric_profile(types[name], total, found.get(i, {}).get(None))
            if kind == "numeric"
            else _categorical_profile(types[name], total, found.get(i, {}))
        )
        for i, (name, kind) in enumerate(kinds.items())
    }
    metrics = (
        metrics_from_sums(columns.task, _metric_sums(columns.task, found))
        if columns.label is not None
        else {}
    )
    return Profile(
        row_count=total,
        quantile_probabilities=list(QUANTILE_PROBABILITIES),
        features={name: profiles[name] for name in columns.features},
        prediction_column=columns.prediction,
        prediction=profiles[columns.prediction],
        task=columns.task,
        label_column=columns.label,
        label=profiles[columns.label] if columns.label is not None else None,
        metrics=metrics,
        skipped=dict(columns.skipped),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
