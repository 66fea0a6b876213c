"""Drift statistics against hand-computed values and scipy (the reference, tests only)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from sparktrack.errors import InvalidInputError
from sparktrack.monitoring._statistics import (
    chi2_survival,
    chi_squared,
    js_distance,
    ks_from_quantiles,
    psi,
)
from sparktrack.monitoring._thresholds import judge, resolve_thresholds, worst


def test_psi_matches_the_hand_computed_sum() -> None:
    expected, actual = [50, 30, 20], [40, 30, 30]
    by_hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + 0 + (0.3 - 0.2) * math.log(0.3 / 0.2)
    assert psi(expected, actual) == pytest.approx(by_hand, rel=1e-12)
    assert psi(expected, expected) == 0.0


def test_psi_of_a_bin_that_appears_is_large_and_finite() -> None:
    # A category absent from the baseline takes 10 % of the rows: 1e-4 stands in for 0.
    value = psi([100, 100, 0], [90, 90, 20])
    by_hand = 2 * (0.45 - 0.5) * math.log(0.45 / 0.5) + (0.1 - 1e-4) * math.log(0.1 / 1e-4)
    assert value == pytest.approx(by_hand, rel=1e-9)
    assert value > 0.25


@pytest.mark.parametrize(
    ("p", "q"),
    [([1, 2, 3], [3, 2, 1]), ([10, 0, 5], [0, 10, 5]), ([1, 0], [0, 1]), ([4, 4], [4, 4])],
)
def test_js_distance_is_scipys_in_base_2(p: list[int], q: list[int]) -> None:
    assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)


@pytest.mark.parametrize(
    ("statistic", "dof"), [(0.5, 1), (3.84, 1), (10.0, 4), (50.0, 30), (2.0, 7)]
)
def test_chi2_survival_is_scipys(statistic: float, dof: int) -> None:
    assert chi2_survival(statistic, dof) == pytest.approx(stats.chi2.sf(statistic, dof), rel=1e-9)


def test_chi_squared_is_scipys_contingency_test_without_correction() -> None:
    baseline, current = [500, 300, 200, 0], [450, 320, 200, 30]
    statistic, p_value = chi_squared(baseline, current)
    table = np.array([baseline, current])[:, :]
    expected = stats.chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    assert chi_squared([5, 0], [7, 0]) == (0.0, 1.0)  # one category left: no test


def test_ks_from_sketches_is_the_two_sample_statistic_within_the_sketch_resolution() -> None:
    rng = np.random.default_rng(7)
    probabilities = np.linspace(0, 1, 101)
    for shift, scale in ((0.0, 1.0), (0.3, 1.0), (0.0, 2.0), (1.0, 0.5)):
        a = rng.normal(0, 1, 20_000)
        b = rng.normal(shift, scale, 20_000)
        sketch_a, sketch_b = np.quantile(a, probabilities), np.quantile(b, probabilities)
        exact = stats.ks_2samp(a, b).statistic
        assert ks_from_quantiles(sketch_a, sketch_b, probabilities) == pytest.approx(
            exact, abs=0.012
        )


def test_ks_from_sketches_of_discrete_values_jumps_at_ties() -> None:
    probabilities = np.linspace(0, 1, 101)
    a = np.quantile(np.repeat([0.0, 1.0], [70, 30]), probabilities)
    b = np.quantile(np.repeat([0.0, 1.0], [40, 60]), probabilities)
    assert ks_from_quantiles(a, b, probabilities) == pytest.approx(0.3, abs=0.011)


def test_thresholds_judge_each_statistic_in_its_direction() -> None:
    overall, per_column = resolve_thresholds({"psi": (0.2, 0.4), "age": {"chi2_p": (0.05, 0.01)}})
    assert judge("psi", 0.3, overall["psi"]) == "WARN"
    assert judge("psi", 0.1, overall["psi"]) == "OK"
    assert judge("chi2_p", 0.001, per_column["age"]["chi2_p"]) == "ALERT"
    assert judge("chi2_p", 0.5, per_column["age"]["chi2_p"]) == "OK"
    assert judge("chi2_p", 0.0, overall["chi2_p"]) == "OK"  # off by default
    assert worst(["OK", "ALERT", "WARN"]) == "ALERT"
    assert worst([]) == "OK"


@pytest.mark.parametrize(
    ("given", "named"),
    [({"psl": (0.1, 0.2)}, "'psl'"), ({"psi": "high"}, "'psi'"), ({"x": {"kss": (1, 2)}}, "'kss'")],
)
def test_bad_thresholds_are_named(given: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidInputError, match=named):
        resolve_thresholds(given)
