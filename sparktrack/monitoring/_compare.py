"""A baseline column against the same column in new data: statistics and status.

Both sides are ``ColumnProfile``s on the same bins (the monitoring pass counts the new
data in the baseline's bins and categories), so every statistic is computed from a
handful of numbers.
"""

from __future__ import annotations

from typing import Any

from sparktrack.monitoring._aggregates import LARGER_IS_BETTER
from sparktrack.monitoring._profile_format import ColumnProfile
from sparktrack.monitoring._statistics import chi_squared, js_distance, ks_from_quantiles, psi
from sparktrack.monitoring._thresholds import Status, ThresholdSpec, judge, worst

__all__ = ["compare_column", "compare_metrics"]


def compare_column(
    name: str,
    role: str,
    baseline: ColumnProfile,
    current: ColumnProfile,
    probabilities: list[float],
    thresholds: dict[str, ThresholdSpec],
) -> dict[str, Any]:
    """One row of the drift table: the column's statistics, status and the reasons.

    Args:
        name: The column.
        role: ``feature``, ``prediction`` or ``label``.
        baseline: The column in the baseline profile.
        current: The column in the new data, on the baseline's bins.
        probabilities: Where both quantile sketches were taken.
        thresholds: The thresholds for this column.
    """
    expected, actual = baseline.histogram(), current.histogram()
    present = current.count - current.missing
    row: dict[str, Any] = {
        "column": name,
        "role": role,
        "kind": baseline.kind,
        "rows": current.count,
        "psi": psi(expected, actual) if present else None,
        "js": js_distance(expected, actual) if present else None,
        "ks": None,
        "chi2": None,
        "chi2_p": None,
        "missing_baseline": baseline.missing_rate,
        "missing_current": current.missing_rate,
        "null_delta": abs(current.missing_rate - baseline.missing_rate),
        "unseen": None,
        "unseen_examples": None,
    }
    if baseline.kind == "numeric":
        if baseline.quantiles and current.quantiles:
            row["ks"] = ks_from_quantiles(baseline.quantiles, current.quantiles, probabilities)
    elif present:
        row["chi2"], row["chi2_p"] = chi_squared(expected, actual)
        if current.unseen is not None:
            row["unseen"] = current.unseen / present
            row["unseen_examples"] = current.unseen_examples or []
    statuses: list[Status] = []
    reasons = []
    for stat in ("psi", "js", "ks", "chi2_p", "null_delta", "unseen"):
        status = judge(stat, row[stat], thresholds[stat])
        statuses.append(status)
        if status != "OK":
            reasons.append(f"{stat} {row[stat]:.4g} ({status})")
    row["status"] = worst(statuses)
    row["reasons"] = "; ".join(reasons)
    return row


def compare_metrics(
    training: dict[str, float], current: dict[str, float], spec: ThresholdSpec
) -> list[dict[str, Any]]:
    """Rows of the decay table: each metric on training and new data, and the decay.

    Decay is the relative worsening: ``(train - now) / |train|`` for metrics where
    larger is better, ``(now - train) / |train|`` for errors; negative is improvement.
    """
    rows = []
    for metric, before in training.items():
        if metric not in current:
            continue
        now = current[metric]
        change = (before - now) if LARGER_IS_BETTER.get(metric, True) else (now - before)
        decay = change / abs(before) if before else change
        rows.append(
            {
                "metric": metric,
                "training": before,
                "current": now,
                "decay": decay,
                "status": judge("decay", decay, spec),
            }
        )
    return rows
