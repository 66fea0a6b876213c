"""Drift statistics on aggregated counts and quantiles: numpy only, no Spark, no scipy.

Everything here takes what one Spark pass produces (bin counts, category counts,
quantile sketches) and never rows, so a statistic costs microseconds however large the
data was. The definitions:

* PSI (population stability index): ``sum((a - e) * ln(a / e))`` over bins, with ``e``
  and ``a`` the baseline's and the current data's proportions. Empty bins get
  ``EPSILON`` so that a bin appearing or emptying gives a large but finite value.
* Jensen-Shannon distance: the square root of the JS divergence in bits (base 2), so it
  lies in [0, 1]; symmetric and finite even with empty bins.
* Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs, here
  read off both sides' quantile sketches (CDFs interpolated linearly between sketch
  points, evaluated at every point of both sketches). Exact up to the sketches'
  resolution (1 % with 100 quantiles).
* Chi-squared test of homogeneity on a 2 x k table (baseline counts vs current counts),
  with its p-value from the chi-squared distribution's survival function (regularised
  upper incomplete gamma function, computed here: scipy is not a dependency).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "EPSILON",
    "chi2_survival",
    "chi_squared",
    "js_distance",
    "ks_from_quantiles",
    "proportions",
    "psi",
]

# The least proportion a bin counts for in PSI (an empty bin's, or a nearly empty one's:
# every share is raised to it). 1e-4 is the usual choice (Evidently fills empty bins
# with it too, so the two agree unless a non-empty bin holds less): a category that
# was absent and takes 1 % of the rows adds 0.01 * ln(100) = 0.05.
EPSILON = 1e-4


def proportions(counts: Sequence[float] | np.ndarray) -> np.ndarray:
    """Counts as proportions (all zeros when there are no counts)."""
    values = np.asarray(counts, dtype=float)
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)


def psi(expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray) -> float:
    """Population stability index of ``actual`` against ``expected`` (counts per bin)."""
    e = np.clip(proportions(expected), EPSILON, None)
    a = np.clip(proportions(actual), EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def js_distance(
    p_counts: Sequence[float] | np.ndarray, q_counts: Sequence[float] | np.ndarray
) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two count vectors."""
    p, q = proportions(p_counts), proportions(q_counts)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        kept = x > 0  # 0 * log 0 = 0; where x > 0, m > 0 too
        return float(np.sum(x[kept] * np.log2(x[kept] / m[kept])))

    divergence = max((kl(p) + kl(q)) / 2, 0.0)  # rounding can make it -1e-17
    return math.sqrt(min(divergence, 1.0))


def _cdf(points: np.ndarray, quantiles: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    # Below the sketch's lowest point the CDF is 0, above its highest 1; in between,
    # linear between sketch points. Ties (a value holding many quantiles) jump at once:
    # the CDF at a tied value is the highest probability recorded at it.
    order = np.argsort(quantiles, kind="stable")
    q, p = quantiles[order], probabilities[order]
    result = np.interp(points, q, p, left=0.0, right=1.0)
    right = np.searchsorted(q, points, side="right") - 1
    on_point = (right >= 0) & (q[np.clip(right, 0, None)] == points)
    result[on_point] = p[right[on_point]]
    return result


def ks_from_quantiles(
    baseline: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    probabilities: Sequence[float] | np.ndarray,
) -> float:
    """Kolmogorov-Smirnov statistic from two quantile sketches at the same probabilities.

    ``probabilities`` should start at 0 and end at 1 (the minimum and the maximum), so
    both CDFs are fully described.
    """
    b = np.asarray(baseline, dtype=float)
    c = np.asarray(current, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    points = np.union1d(b, c)
    return float(np.max(np.abs(_cdf(points, b, p) - _cdf(points, c, p))))


def chi2_survival(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X chi-squared with ``dof`` degrees of freedom."""
    if dof <= 0:
        return 1.0
    if statistic <= 0:
        return 1.0
    return _gamma_q(dof / 2.0, statistic / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """The regularised upper incomplete gamma function Q(a, x) (Numerical Recipes 6.2)."""
    log_prefactor = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        # Series for P(a, x), converging fast below a + 1.
        term = total = 1.0 / a
        denominator = a
        for _ in range(10_000):
            denominator += 1.0
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefactor))
    # Continued fraction for Q(a, x) (modified Lentz), converging fast above a + 1.
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(log_prefactor) * h)


def chi_squared(
    baseline: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """Chi-squared test of homogeneity of two count vectors: (statistic, p-value).

    Categories empty on both sides are left out (they carry no information and would
    divide by zero); with fewer than two categories left, the test says nothing:
    (0.0, 1.0).
    """
    table = np.vstack([np.asarray(baseline, dtype=float), np.asarray(current, dtype=float)])
    table = table[:, table.sum(axis=0) > 0]
    row_totals = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(row_totals == 0):
        return 0.0, 1.0
    expected = np.outer(row_totals, table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, chi2_survival(statistic, table.shape[1] - 1)
