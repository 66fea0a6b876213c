"""A sweep's settings, checked once: ``SweepOptions`` and the trial budget.

Each value is checked on its own when the options are built; what depends on the
target (a function needs ``metric`` and ``mode``, an estimator takes them from its
evaluator) is checked by the trial runner of that kind, and the budget, which needs
the space (a grid's size), by ``trial_budget``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from sparktrack.errors import InvalidInputError
from sparktrack.sweeps._space import SearchSpace
from sparktrack.sweeps._study import optuna_module

if TYPE_CHECKING:
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler

__all__ = [
    "EARLY_STOPPINGS",
    "MODES",
    "STRATEGIES",
    "EarlyStopping",
    "Mode",
    "Strategy",
    "SweepOptions",
    "trial_budget",
]

Strategy = Literal["grid", "random", "tpe"]
"""How the next trial's params are chosen: every grid point once, at random, or by
Optuna's TPE sampler (a model of what worked so far)."""

EarlyStopping = Literal["median", "hyperband", "successive_halving"]
"""The Optuna pruner that stops trials whose intermediate values lag behind."""

Mode = Literal["min", "max"]
"""Whether the optimised metric is better smaller or bigger."""

STRATEGIES: tuple[str, ...] = get_args(Strategy)
EARLY_STOPPINGS: tuple[str, ...] = get_args(EarlyStopping)
MODES: tuple[str, ...] = get_args(Mode)


@dataclass(frozen=True, kw_only=True)
class SweepOptions:
    """How a sweep searches: what ``sparktrack.sweep`` takes besides target, space and data.

    Built (and checked) by ``sweep``; each field means what the argument of the same
    name there means.

    Attributes:
        name: Names the sweep; running a sweep of the same name again in the same
            experiment resumes it. None: a new, unnamed sweep.
        metric: The key of the function's returned dict to optimise (function sweeps;
            estimator sweeps take it from the evaluator).
        mode: "min" or "max" (function sweeps; an estimator's evaluator decides).
        strategy: "grid", "random", "tpe", or an ``optuna.samplers`` sampler.
        max_trials: At most this many trials (grid: at most the grid's size).
        timeout: Seconds after which no new trial starts.
        parallelism: Trials running at once (default: 2 for estimators, the cluster's
            cores for functions).
        num_folds: Folds of ``train`` that score an estimator trial (default 3) when no
            validation DataFrame is given.
        early_stopping: "median", "hyperband", "successive_halving", an
            ``optuna.pruners`` pruner, or None (or False) for no early stopping.
        register_as: Register the best model (estimator sweeps) under this name.
        seed: Seeds the sampler and the folds' split.
        progress: Show a progress bar.

    Raises:
        InvalidInputError: A value is of the wrong type or outside what the option
            allows; the message names the option and what it accepts.
    """

    name: str | None = None
    metric: str | None = None
    mode: Mode | None = None
    strategy: Strategy | BaseSampler = "tpe"
    max_trials: int | None = None
    timeout: float | None = None
    parallelism: int | None = None
    num_folds: int | None = None
    early_stopping: EarlyStopping | BasePruner | Literal[False] | None = None
    register_as: str | None = None
    seed: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        for option in ("name", "metric", "register_as"):
            _check_text(option, getattr(self, option))
        if self.mode is not None and self.mode not in MODES:
            raise InvalidInputError(f"mode must be 'min' or 'max', got {self.mode!r}")
        _check_strategy(self.strategy)
        _check_early_stopping(self.early_stopping)
        _check_positive("max_trials", self.max_trials)
        _check_positive("timeout", self.timeout, allow_float=True)
        _check_positive("parallelism", self.parallelism)
        if self.num_folds is not None and (
            isinstance(self.num_folds, bool)
            or not isinstance(self.num_folds, int)
            or self.num_folds < 2
        ):
            raise InvalidInputError(f"num_folds must be an integer >= 2, got {self.num_folds!r}")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise InvalidInputError(f"seed must be an integer or None, got {self.seed!r}")
        if not isinstance(self.progress, bool):
            raise InvalidInputError(f"progress must be True or False, got {self.progress!r}")

    @property
    def maximize(self) -> bool:
        """Whether ``mode`` is "max" (False when it is "min" or not given)."""
        return self.mode == "max"

    @property
    def strategy_name(self) -> str:
        """The strategy as the sweep run's tag records it ("custom" for a sampler)."""
        return self.strategy if isinstance(self.strategy, str) else "custom"


def trial_budget(options: SweepOptions, space: SearchSpace) -> int | None:
    """How many trials the sweep may run: ``max_trials``, capped by a grid's size.

    Args:
        options: The sweep's options.
        space: The sweep's space (a grid's size is the number of its points).

    Returns:
        The number of trials, or None when only ``timeout`` bounds the sweep.

    Raises:
        InvalidInputError: Neither ``max_trials`` nor ``timeout`` bounds a strategy
            other than "grid", or a grid's space is not finite.
    """
    if options.strategy == "grid":
        size = space.grid_size()
        return min(options.max_trials or size, size)
    if options.max_trials is None and options.timeout is None:
        raise InvalidInputError(
            f"strategy {options.strategy!r} needs a budget: give max_trials= or timeout= (s)"
        )
    return options.max_trials


def _check_text(option: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(
            f"{option} must be a string or None, got {type(value).__name__} {value!r}"
        )


def _check_positive(option: str, value: Any, *, allow_float: bool = False) -> None:
    if value is None:
        return
    kind = "number" if allow_float else "integer"
    number = isinstance(value, int | float) if allow_float else isinstance(value, int)
    if isinstance(value, bool) or not number or value <= 0:
        raise InvalidInputError(f"{option} must be a positive {kind} or None, got {value!r}")


def _check_strategy(strategy: Any) -> None:
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return
    # Optuna is loaded only for a value that is not a plain string.
    if not isinstance(strategy, str) and isinstance(strategy, optuna_module().samplers.BaseSampler):
        return
    allowed = ", ".join(repr(s) for s in STRATEGIES)
    raise InvalidInputError(
        f"strategy {strategy!r} is not one of {allowed} (or an optuna.samplers sampler)"
    )


def _check_early_stopping(early_stopping: Any) -> None:
    if early_stopping is None or early_stopping is False:
        return
    if isinstance(early_stopping, str) and early_stopping in EARLY_STOPPINGS:
        return
    if not isinstance(early_stopping, str) and isinstance(
        early_stopping, optuna_module().pruners.BasePruner
    ):
        return
    raise InvalidInputError(
        f"early_stopping {early_stopping!r} is not one of {list(EARLY_STOPPINGS)}, an "
        "optuna.pruners pruner, or None"
    )
