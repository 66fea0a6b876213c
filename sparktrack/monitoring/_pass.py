"""The monitoring pass: one Spark aggregation over the scored new data.

Everything is counted in the baseline's terms (its bins, its categories), so one
``agg`` gives every column's histogram, missing count and quantile sketch, and the
label metrics' sums; with a time window, one ``groupBy(window(ts)).agg`` gives the
same per window. Nothing else reads the data.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparktrack.errors import InvalidInputError
from sparktrack.monitoring._aggregates import (
    QUANTILE_ACCURACY,
    Aggregates,
    metric_sums,
    metrics_from_sums,
    value,
)
from sparktrack.monitoring._columns import ModelColumns, Task
from sparktrack.monitoring._profile_format import ColumnProfile, Profile

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["ObservedWindow", "observe", "spark_interval"]

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_INTERVAL = re.compile(r"^\s*(\d+)\s*([a-zA-Z]+)\s*$")
_SPARK_UNITS = {"second", "minute", "hour", "day", "week"}


def spark_interval(window: str) -> str:
    """``1d``, ``6h``, ``30m``, ``1w``, ``1 day``, ``6 hours`` as Spark's ``"N unit"``.

    Raises:
        InvalidInputError: Not a count followed by a unit.
    """
    match = _INTERVAL.match(window)
    if match:
        count, unit = match.group(1), match.group(2).lower()
        if unit in _UNITS:
            return f"{count} {_UNITS[unit]}"
        if unit.rstrip("s") in _SPARK_UNITS:
            return f"{count} {unit.rstrip('s')}s"
    raise InvalidInputError(
        f"window {window!r} is not a duration; write e.g. '1d', '6h', '30m', '1w' or '1 day'"
    )


@dataclass
class ObservedWindow:
    """What one window of new data looks like, in the baseline's bins and categories."""

    start: str | None
    end: str | None
    columns: dict[str, ColumnProfile]
    metrics: dict[str, float]

    @property
    def label(self) -> str:
        """``start/end`` (ISO 8601), or ``all`` without a time window."""
        return f"{self.start}/{self.end}" if self.start is not None else "all"


def _utc(stamp: dt.datetime) -> str:
    # pyspark hands a timestamp back as a naive time in the driver's local zone: the
    # bounds are stated in UTC, with the offset, so they read the same everywhere.
    return stamp.astimezone(dt.UTC).isoformat()


def _add_column(
    aggregates: Aggregates, name: str, baseline: ColumnProfile, probabilities: list[float]
) -> dict[str, Any]:
    from pyspark.sql import functions as F

    values = value(name, baseline.kind)
    keys: dict[str, Any] = {"present": aggregates.add(F.count(values))}
    if baseline.kind == "numeric":
        edges = baseline.bin_edges or []
        bounds: list[tuple[float | None, float | None]] = list(
            zip([None, *edges], [*edges, None], strict=True)
        )
        keys["bins"] = [
            aggregates.add(F.count(F.when(_within(values, lo, hi), 1))) for lo, hi in bounds
        ]
        keys["quantiles"] = aggregates.add(
            F.percentile_approx(values, probabilities, QUANTILE_ACCURACY)
        )
    else:
        categories = baseline.categories or []
        keys["categories"] = [
            aggregates.add(F.count(F.when(values == F.lit(c), 1))) for c in categories
        ]
        if baseline.complete:
            unseen = values.isNotNull()
            if categories:
                unseen = unseen & ~values.isin(categories)
            keys["unseen"] = aggregates.add(F.count(F.when(unseen, 1)))
            keys["unseen_low"] = aggregates.add(F.min(F.when(unseen, values)))
            keys["unseen_high"] = aggregates.add(F.max(F.when(unseen, values)))
    return keys


def _within(values: Column, low: float | None, high: float | None) -> Column:
    from pyspark.sql import functions as F

    condition = values.isNotNull()
    if low is not None:
        condition = condition & (values > F.lit(float(low)))
    if high is not None:
        condition = condition & (values <= F.lit(float(high)))
    return condition


def _observed(
    baseline: ColumnProfile, total: int, row: dict[str, Any], keys: dict[str, Any]
) -> ColumnProfile:
    present = int(row[keys["present"]])
    if baseline.kind == "numeric":
        quantiles = row[keys["quantiles"]]
        return ColumnProfile(
            kind="numeric",
            type=baseline.type,
            count=total,
            missing=total - present,
            quantiles=[float(q) for q in quantiles] if quantiles else None,
            bin_edges=baseline.bin_edges,
            bin_counts=[int(row[k]) for k in keys["bins"]],
        )
    counts = [int(row[k]) for k in keys["categories"]]
    unseen = None if "unseen" not in keys else int(row[keys["unseen"]])
    examples = None
    if unseen:
        examples = sorted({row[keys["unseen_low"]], row[keys["unseen_high"]]} - {None})
    return ColumnProfile(
        kind="categorical",
        type=baseline.type,
        count=total,
        missing=total - present,
        categories=baseline.categories,
        category_counts=counts,
        other_count=present - sum(counts),
        distinct=None,
        unseen=unseen,
        unseen_examples=examples,
    )


def observe(
    scored: DataFrame,
    profile: Profile,
    columns: ModelColumns,
    baselines: dict[str, ColumnProfile],
    *,
    timestamp_col: str | None,
    window: str | None,
) -> list[ObservedWindow]:
    """Count the scored new data in the baseline's terms, per window (one Spark job).

    Args:
        scored: ``model.transform(new_data)``.
        profile: The baseline.
        columns: The columns of this pass (features, prediction, label).
        baselines: The baseline's profile of each column to observe.
        timestamp_col: The column whose time places a row in a window, if any.
        window: The windows' length (``1d``, ``6h``, ...), with ``timestamp_col``.

    Returns:
        The windows in time order (one, ``all``, without ``timestamp_col``); windows
        without rows are not returned.
    """
    from pyspark.sql import functions as F

    aggregates = Aggregates()
    total_key = aggregates.add(F.count(F.lit(1)))
    probabilities = profile.quantile_probabilities
    keys = {
        name: _add_column(aggregates, name, baseline, probabilities)
        for name, baseline in baselines.items()
    }
    task: Task = columns.task
    sums: dict[str, str] = {}
    if columns.label is not None and profile.metrics:
        sums = metric_sums(aggregates, task, columns.prediction, columns.label)
    if timestamp_col is None:
        rows = [Aggregates.read(scored.agg(*aggregates.columns).first())]
        bounds: list[tuple[str | None, str | None]] = [(None, None)]
    else:
        interval = spark_interval(window or "1d")
        grouped = (
            scored.groupBy(F.window(F.col(timestamp_col), interval).alias("_window"))
            .agg(*aggregates.columns)
            .orderBy("_window.start")
            .collect()
        )
        rows = [Aggregates.read(r) for r in grouped]
        bounds = [(_utc(r["_window"]["start"]), _utc(r["_window"]["end"])) for r in grouped]
    observed = []
    for row, (start, end) in zip(rows, bounds, strict=True):
        total = int(row[total_key])
        if total == 0:
            continue
        observed.append(
            ObservedWindow(
                start=start,
                end=end,
                columns={
                    name: _observed(baseline, total, row, keys[name])
                    for name, baseline in baselines.items()
                },
                metrics=metrics_from_sums(task, {k: row[v] for k, v in sums.items()}),
            )
        )
    return observed
