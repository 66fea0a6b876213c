"""A sweep's options are checked on their own, before any Spark or store is touched."""

from __future__ import annotations

import dataclasses
from typing import Any

import optuna
import pytest

from sparktrack.errors import InvalidInputError
from sparktrack.sweeps import SweepOptions, choice, int_range, uniform
from sparktrack.sweeps._options import trial_budget
from sparktrack.sweeps._space import SearchSpace


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("strategy", "bayes", "'grid', 'random', 'tpe'"),
        ("strategy", optuna.pruners.MedianPruner(), "optuna.samplers sampler"),
        ("early_stopping", "soon", "'median', 'hyperband', 'successive_halving'"),
        ("early_stopping", True, "optuna.pruners pruner"),
        ("early_stopping", optuna.samplers.RandomSampler(), "optuna.pruners pruner"),
        ("mode", "down", "'min' or 'max'"),
        ("mode", "MAX", "'min' or 'max'"),
        ("max_trials", 0, "positive integer"),
        ("max_trials", 2.5, "positive integer"),
        ("max_trials", True, "positive integer"),
        ("timeout", -1, "positive number"),
        ("timeout", "60", "positive number"),
        ("parallelism", 0, "positive integer"),
        ("num_folds", 1, "integer >= 2"),
        ("num_folds", 3.0, "integer >= 2"),
        ("seed", 1.5, "integer or None"),
        ("seed", False, "integer or None"),
        ("progress", "yes", "True or False"),
        ("name", 7, "string or None"),
        ("metric", ["auc"], "string or None"),
        ("register_as", 1, "string or None"),
    ],
)
def test_a_bad_value_names_the_option_and_what_it_accepts(
    option: str, value: Any, allowed: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        SweepOptions(**{option: value})
    message = str(raised.value)
    assert message.startswith(option), message
    assert allowed in message, message


def test_good_values_are_kept_and_the_options_are_frozen() -> None:
    sampler = optuna.samplers.RandomSampler(seed=1)
    pruner = optuna.pruners.MedianPruner()
    options = SweepOptions(
        name="s",
        metric="loss",
        mode="min",
        strategy=sampler,
        max_trials=4,
        timeout=1.5,
        parallelism=3,
        num_folds=2,
        early_stopping=pruner,
        register_as="m",
        seed=0,
        progress=False,
    )
    assert options.strategy is sampler and options.early_stopping is pruner
    assert options.strategy_name == "custom" and not options.maximize
    assert SweepOptions(strategy="grid", mode="max").strategy_name == "grid"
    assert SweepOptions(early_stopping=False).early_stopping is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_trials = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        SweepOptions("s")  # type: ignore[misc]  # keyword-only


def test_the_budget_is_max_trials_capped_by_the_grid() -> None:
    grid = SearchSpace.of({"x": [1, 2, 3], "kind": choice(["a", "b"]), "n": int_range(1, 2)})
    assert trial_budget(SweepOptions(strategy="grid"), grid) == 12
    assert trial_budget(SweepOptions(strategy="grid", max_trials=5), grid) == 5
    assert trial_budget(SweepOptions(strategy="grid", max_trials=50), grid) == 12
    ranges = SearchSpace.of({"x": uniform(0, 1)})
    assert trial_budget(SweepOptions(max_trials=7), ranges) == 7
    assert trial_budget(SweepOptions(timeout=10), ranges) is None
    with pytest.raises(InvalidInputError, match="strategy 'random' needs a budget"):
        trial_budget(SweepOptions(strategy="random"), ranges)
    with pytest.raises(InvalidInputError, match="'x' is a continuous range"):
        trial_budget(SweepOptions(strategy="grid"), ranges)
