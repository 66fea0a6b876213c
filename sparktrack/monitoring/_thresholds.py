"""Thresholds: which statistic values make a column WARN or ALERT.

Defaults, and why:

* ``psi`` 0.1 / 0.25: the industry convention (credit scoring): below 0.1 no
  significant change, 0.1-0.25 a moderate one, above 0.25 a major one.
* ``js`` (Jensen-Shannon distance, base 2) 0.1 / 0.2: 0.1 is Evidently's default drift
  threshold; for small shifts the distance is about sqrt(PSI / 5.5), so 0.1 / 0.2
  sit near PSI 0.06 / 0.22.
* ``ks`` 0.1 / 0.2: the statistic is an effect size (the largest gap between the two
  CDFs); its p-value is not used because at scoring volumes any difference is
  significant. The sketches resolve 1 %, and a sample of n rows drifts by chance
  about 1.36 / sqrt(n) (0.014 at 10,000 rows).
* ``chi2_p``: none (reported, not judged): like KS's p-value, the chi-squared test
  rejects negligible differences on large data. Set e.g. ``(0.01, 0.001)`` for small
  data.
* ``null_delta`` 0.05 / 0.1: the change in the share of missing values (either way).
* ``unseen`` 0.01 / 0.05: the share of values in categories the baseline never saw
  (judged only when the baseline knew all its categories).
* ``decay`` 0.05 / 0.1: the relative worsening of a model metric against training
  (accuracy 0.90 to 0.85 is 0.056: WARN).

A column's status is its worst statistic's; the pass's is its worst column's or metric's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from sparktrack.errors import InvalidInputError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "LOWER_IS_WORSE",
    "STATUSES",
    "Status",
    "ThresholdSpec",
    "judge",
    "resolve_thresholds",
    "worst",
]

Status = Literal["OK", "WARN", "ALERT"]
STATUSES: tuple[Status, ...] = ("OK", "WARN", "ALERT")

ThresholdSpec = tuple[float | None, float | None]
"""(warn, alert): the values from which a statistic WARNs and ALERTs; None: never."""

DEFAULT_THRESHOLDS: dict[str, ThresholdSpec] = {
    "psi": (0.1, 0.25),
    "js": (0.1, 0.2),
    "ks": (0.1, 0.2),
    "chi2_p": (None, None),
    "null_delta": (0.05, 0.1),
    "unseen": (0.01, 0.05),
    "decay": (0.05, 0.1),
}
# A p-value is worse the lower it is; every other statistic the higher.
LOWER_IS_WORSE = frozenset({"chi2_p"})


def _spec(key: str, raw: Any, where: str) -> ThresholdSpec:
    if raw is None:
        return (None, None)
    try:
        warn, alert = raw
        spec = tuple(None if v is None else float(v) for v in (warn, alert))
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"threshold {where}{key!r} is {raw!r}; give (warn, alert) numbers, either "
            "None, or None for neither"
        ) from None
    if any(v is not None and not math.isfinite(v) for v in spec):
        raise InvalidInputError(f"threshold {where}{key!r} is {raw!r}; use finite numbers")
    return (spec[0], spec[1])


def resolve_thresholds(
    given: Mapping[str, Any] | None,
) -> tuple[dict[str, ThresholdSpec], dict[str, dict[str, ThresholdSpec]]]:
    """The thresholds in force: (for every column, per column).

    ``given`` maps a statistic to ``(warn, alert)``, or a column name to such a mapping
    for that column alone: ``{"psi": (0.2, 0.4), "age": {"ks": (0.2, 0.3)}}``.

    Raises:
        InvalidInputError: An unknown statistic, or a value that is not (warn, alert).
    """
    overall = dict(DEFAULT_THRESHOLDS)
    per_column: dict[str, dict[str, ThresholdSpec]] = {}
    known = sorted(DEFAULT_THRESHOLDS)
    for key, raw in (given or {}).items():
        if isinstance(raw, Mapping):
            for stat, spec in raw.items():
                if stat not in DEFAULT_THRESHOLDS:
                    raise InvalidInputError(
                        f"threshold [{key!r}][{stat!r}] names no statistic; use one of {known}"
                    )
                per_column.setdefault(key, {})[stat] = _spec(stat, spec, f"[{key!r}]")
        elif key in DEFAULT_THRESHOLDS:
            overall[key] = _spec(key, raw, "")
        else:
            raise InvalidInputError(
                f"threshold {key!r} names no statistic; use one of {known}, or map a "
                "column name to its own thresholds"
            )
    return overall, per_column


def judge(stat: str, measured: float | None, spec: ThresholdSpec) -> Status:
    """The status one statistic's value earns."""
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return "OK"
    warn, alert = spec
    lower = stat in LOWER_IS_WORSE

    def beyond(limit: float | None) -> bool:
        if limit is None:
            return False
        return measured < limit if lower else measured >= limit

    if beyond(alert):
        return "ALERT"
    if beyond(warn):
        return "WARN"
    return "OK"


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """The worst of some statuses (OK for none)."""
    return max(statuses, key=STATUSES.index, default="OK")
