"""Profiling a model's data: two Spark passes over ``model.transform(df)``.

The first pass is one ``agg``: row and missing counts, quantile sketches, means,
standard deviations and, with labels, the sums the model's metrics come from. The
second is one ``groupBy`` over every profiled column at once (each row exploded into
(column, value) pairs, numeric values replaced by their decile bin): the category
frequencies and the histograms. The bins need the first pass's deciles, hence two.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from sparktrack.errors import InvalidInputError
from sparktrack.monitoring._aggregates import (
    QUANTILE_ACCURACY,
    QUANTILE_PROBABILITIES,
    Aggregates,
    bin_index,
    metric_sums,
    metrics_from_sums,
    value,
)
from sparktrack.monitoring._columns import Kind, ModelColumns, inferred_label, model_columns
from sparktrack.monitoring._profile_format import ColumnProfile, Profile

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["TOP_K", "decile_edges", "profile_frame", "summarised_columns"]

# Categories kept per column; the rest of a column's values count as "other".
TOP_K = 30
_DECILES = range(10, 100, 10)  # indices of 0.1 ... 0.9 in QUANTILE_PROBABILITIES


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


def _value_counts(
    scored: DataFrame, kinds: dict[str, Kind], edges: dict[str, list[float]]
) -> dict[str, tuple[list[tuple[str, int]], int]]:
    """Per column: its TOP_K commonest values (or bins) with counts, and its distinct count.

    One groupBy for all columns.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    names = list(kinds)
    if not names:
        return {}
    entries = []
    for i, name in enumerate(names):
        values = value(name, kinds[name])
        if kinds[name] == "numeric":
            values = bin_index(values, edges[name]).cast("string")
        entries.append(F.struct(F.lit(i).alias("c"), values.alias("v")))
    pairs = (
        scored.select(F.explode(F.array(*entries)).alias("e"))
        .select("e.c", "e.v")
        .where(F.col("v").isNotNull())
    )
    counted = pairs.groupBy("c", "v").count()
    by_column = Window.partitionBy("c")
    ranked = counted.select(
        "c",
        "v",
        "count",
        F.row_number().over(by_column.orderBy(F.desc("count"), F.asc("v"))).alias("rank"),
        F.count(F.lit(1)).over(by_column).alias("distinct"),
    ).where(F.col("rank") <= TOP_K)
    found: dict[str, tuple[list[tuple[str, int]], int]] = {n: ([], 0) for n in names}
    for row in ranked.orderBy("c", "rank").collect():
        name = names[row["c"]]
        pairs_so_far, _ = found[name]
        pairs_so_far.append((row["v"], int(row["count"])))
        found[name] = (pairs_so_far, int(row["distinct"]))
    return found


def _finite(number: Any) -> float | None:
    # JSON has no NaN: a standard deviation of one value (NaN in Spark) is unknown.
    return float(number) if number is not None and math.isfinite(number) else None


def _column_profile(
    kind: Kind,
    type_name: str,
    total: int,
    first: dict[str, Any],
    keys: dict[str, str],
    counts: tuple[list[tuple[str, int]], int],
    edges: list[float],
) -> ColumnProfile:
    present = int(first[keys["present"]])
    found, distinct = counts
    if kind == "numeric":
        by_bin = dict(found)
        quantiles = first[keys["quantiles"]]
        return ColumnProfile(
            kind=kind,
            type=type_name,
            count=total,
            missing=total - present,
            mean=_finite(first[keys["mean"]]),
            std=_finite(first[keys["std"]]),
            quantiles=[float(q) for q in quantiles] if quantiles else None,
            bin_edges=edges,
            bin_counts=[by_bin.get(str(i), 0) for i in range(len(edges) + 1)],
        )
    kept = sum(count for _, count in found)
    return ColumnProfile(
        kind=kind,
        type=type_name,
        count=total,
        missing=total - present,
        categories=[v for v, _ in found],
        category_counts=[c for _, c in found],
        other_count=present - kept,
        distinct=distinct,
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
    from pyspark.sql import functions as F

    if label_col is None and infer_label:
        label_col = inferred_label(model, df.columns)
    scored = model.transform(df)
    columns = model_columns(model, scored, feature_names, label_col)
    kinds = summarised_columns(columns)
    types = {f.name: f.dataType.simpleString() for f in scored.schema.fields}
    aggregates = Aggregates()
    total_key = aggregates.add(F.count(F.lit(1)))
    keys: dict[str, dict[str, str]] = {}
    for name, kind in kinds.items():
        values = value(name, kind)
        keys[name] = {"present": aggregates.add(F.count(values))}
        if kind == "numeric":
            keys[name]["quantiles"] = aggregates.add(
                F.percentile_approx(values, QUANTILE_PROBABILITIES, QUANTILE_ACCURACY)
            )
            keys[name]["mean"] = aggregates.add(F.avg(values))
            keys[name]["std"] = aggregates.add(F.stddev_samp(values))
    sums = (
        metric_sums(aggregates, columns.task, columns.prediction, columns.label)
        if columns.label is not None
        else {}
    )
    first = Aggregates.read(scored.agg(*aggregates.columns).first())
    total = int(first[total_key])
    if total == 0:
        raise InvalidInputError("the DataFrame to profile has no rows; profile the training data")
    edges = {
        name: decile_edges(first[keys[name]["quantiles"]])
        for name, kind in kinds.items()
        if kind == "numeric"
    }
    counts = _value_counts(scored, kinds, edges)
    profiles = {
        name: _column_profile(
            kind, types[name], total, first, keys[name], counts[name], edges.get(name, [])
        )
        for name, kind in kinds.items()
    }
    metrics = metrics_from_sums(columns.task, {k: first[v] for k, v in sums.items()})
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
