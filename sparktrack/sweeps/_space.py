"""Search spaces: what each hyperparameter may take, as Optuna distributions.

    space = {
        "regParam": loguniform(1e-4, 1.0),
        "elasticNetParam": [0.0, 0.5, 1.0],    # a list: these values (grid or choice)
        "maxIter": int_range(10, 100, step=10),
    }

A space may also be a function ``space(trial) -> dict`` that calls Optuna's
``trial.suggest_*`` itself: conditional parameters (a param that exists only for
one value of another) are written that way. Grid search needs finite values only.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sparktrack.errors import InvalidInputError

__all__ = [
    "Distribution",
    "SearchSpace",
    "choice",
    "int_range",
    "loguniform",
    "uniform",
]


@dataclass(frozen=True)
class Distribution:
    """One hyperparameter's range; build it with choice, uniform, loguniform or int_range.

    Attributes:
        kind: "choice", "float" or "int".
        low: The smallest value of a range (None for a choice).
        high: The largest value of a range (None for a choice).
        step: The spacing of a range's values, if any.
        log: Whether a range is sampled uniformly on the log scale.
        values: A choice's values.
    """

    kind: str  # choice | float | int
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    values: tuple[Any, ...] = ()

    def to_optuna(self) -> Any:
        """The same range as an ``optuna.distributions`` distribution.

        Returns:
            A CategoricalDistribution, IntDistribution or FloatDistribution.
        """
        # Imported here, not at the top: `import sparktrack` does not load Optuna.
        import optuna.distributions as od

        if self.kind == "choice":
            return od.CategoricalDistribution(self.values)
        if self.kind == "int":
            assert self.low is not None and self.high is not None
            return od.IntDistribution(
                int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        assert self.low is not None and self.high is not None
        return od.FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def grid_values(self, key: str) -> list[Any]:
        """Every value of the range, for grid search.

        Args:
            key: The param's name, for the error message.

        Returns:
            The values in order.

        Raises:
            InvalidInputError: The range is continuous (or an integer range on a log
                scale): give a list of values, or use another strategy.
        """
        if self.kind == "choice":
            return list(self.values)
        if self.kind == "int" and not self.log:
            assert self.low is not None and self.high is not None
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        raise InvalidInputError(
            f"grid search needs finite values, but {key!r} is a continuous range "
            f"({self.describe()}); give a list of values, or use strategy='tpe' or 'random'"
        )

    def describe(self) -> str:
        """The range in words, e.g. ``float 0.0001..1.0 (log)``.

        Returns:
            The description (what ``sweep_space.json`` holds).
        """
        if self.kind == "choice":
            return f"choice{list(self.values)}"
        scale = "log" if self.log else "linear"
        step = f", step {self.step}" if self.step else ""
        return f"{self.kind} {self.low}..{self.high} ({scale}{step})"


def choice(values: Sequence[Any]) -> Distribution:
    """One of ``values``; a plain list in a space means the same.

    Args:
        values: Numbers, strings, booleans or None.

    Returns:
        The distribution.

    Raises:
        InvalidInputError: ``values`` is empty or holds another type (pick objects by
            name inside your function instead).
    """
    items = tuple(values)
    if not items:
        raise InvalidInputError("choice() needs at least one value")
    for item in items:
        if item is not None and not isinstance(item, bool | int | float | str):
            raise InvalidInputError(
                f"choice value {item!r} is a {type(item).__name__}; values must be numbers, "
                "strings, booleans or None (pick objects by name inside your function)"
            )
    return Distribution("choice", values=items)


def _bounds(name: str, low: Any, high: Any) -> tuple[float, float]:
    if not isinstance(low, int | float) or not isinstance(high, int | float) or low > high:
        raise InvalidInputError(f"{name}({low!r}, {high!r}) needs numbers with low <= high")
    return float(low), float(high)


def uniform(low: float, high: float, *, step: float | None = None) -> Distribution:
    """A float in [low, high], uniformly.

    Args:
        low: The smallest value.
        high: The largest value.
        step: Only multiples of ``step`` from ``low``, if given.

    Returns:
        The distribution.

    Raises:
        InvalidInputError: The bounds are not numbers with ``low <= high``.
    """
    lo, hi = _bounds("uniform", low, high)
    return Distribution("float", lo, hi, step=step)


def loguniform(low: float, high: float) -> Distribution:
    """A float in [low, high], uniform on the log scale (learning rates, penalties).

    Args:
        low: The smallest value, above 0.
        high: The largest value.

    Returns:
        The distribution.

    Raises:
        InvalidInputError: The bounds are not numbers with ``0 < low <= high``.
    """
    lo, hi = _bounds("loguniform", low, high)
    if lo <= 0:
        raise InvalidInputError(f"loguniform({low!r}, {high!r}) needs low > 0")
    return Distribution("float", lo, hi, log=True)


def int_range(low: int, high: int, *, step: int = 1, log: bool = False) -> Distribution:
    """An integer in [low, high] (both included), every ``step``.

    Args:
        low: The smallest value.
        high: The largest value.
        step: The spacing of the values, at least 1.
        log: Sample uniformly on the log scale.

    Returns:
        The distribution.

    Raises:
        InvalidInputError: The arguments are not integers with ``low <= high`` and
            ``step >= 1``.
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, step)):
        raise InvalidInputError(f"int_range({low!r}, {high!r}, step={step!r}) needs integers")
    lo, hi = _bounds("int_range", low, high)
    if step < 1:
        raise InvalidInputError(f"int_range step must be >= 1, got {step}")
    return Distribution("int", lo, hi, step=step, log=log)


def _as_distribution(key: str, spec: Any) -> Distribution:
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, list | tuple):
        return choice(spec)
    if isinstance(spec, bool | int | float | str) or spec is None:
        return choice([spec])  # a fixed value
    raise InvalidInputError(
        f"space entry {key!r} is a {type(spec).__name__}; give a list of values or "
        "choice(...), uniform(...), loguniform(...), int_range(...)"
    )


@dataclass(frozen=True)
class SearchSpace:
    """A space, normalised: named distributions, or a define-by-run function."""

    keys: tuple[str, ...]
    distributions: Mapping[str, Distribution]
    define: Callable[[Any], Mapping[str, Any]] | None = None
    objects: Mapping[str, Any] | None = None  # key -> the Param object it named, if any

    @classmethod
    def of(cls, space: Any) -> SearchSpace:
        if callable(space) and not isinstance(space, Mapping):
            return cls((), {}, define=space)
        if not isinstance(space, Mapping) or not space:
            raise InvalidInputError(
                "space must be a non-empty dict of name -> values / distribution, or a "
                f"function of an Optuna trial; got {type(space).__name__}"
            )
        keys, distributions, objects = [], {}, {}
        for raw_key, spec in space.items():
            key = _key_name(raw_key)
            if key in distributions:
                raise InvalidInputError(f"space names {key!r} twice")
            keys.append(key)
            distributions[key] = _as_distribution(key, spec)
            if not isinstance(raw_key, str):
                objects[key] = raw_key
        return cls(tuple(keys), distributions, objects=objects)

    def sample(self, trial: Any) -> dict[str, Any]:
        """The trial's params, suggested through Optuna (the sampler decides)."""
        if self.define is not None:
            values = self.define(trial)
            if not isinstance(values, Mapping):
                raise InvalidInputError(
                    f"the space function returned {type(values).__name__}; return a dict "
                    "of param name -> value"
                )
            return {str(k): v for k, v in values.items()}
        return {k: _suggest(trial, k, self.distributions[k]) for k in self.keys}

    def grid(self) -> dict[str, list[Any]]:
        """Every key's finite values, for grid search."""
        if self.define is not None:
            raise InvalidInputError(
                "strategy='grid' needs a dict space of finite values, not a function"
            )
        return {k: self.distributions[k].grid_values(k) for k in self.keys}

    def grid_size(self) -> int:
        """How many points the grid has."""
        return math.prod(len(values) for values in self.grid().values())

    def fingerprint(self) -> str:
        """Identifies the space, so a resumed sweep can refuse a changed one."""
        if self.define is not None:
            code = getattr(self.define, "__code__", None)
            text = code.co_code.hex() if code is not None else repr(self.define)
        else:
            text = json.dumps(
                {k: self.distributions[k].describe() for k in self.keys}, sort_keys=True
            )
        return hashlib.sha1(text.encode()).hexdigest()[:16]


def _suggest(trial: Any, key: str, dist: Distribution) -> Any:
    if dist.kind == "choice":
        return trial.suggest_categorical(key, list(dist.values))
    assert dist.low is not None and dist.high is not None
    if dist.kind == "int":
        return trial.suggest_int(
            key, int(dist.low), int(dist.high), step=int(dist.step or 1), log=dist.log
        )
    return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)


def _key_name(raw_key: Any) -> str:
    """A space key: a string, or a pyspark Param (named ``<Stage>.<param>``)."""
    if isinstance(raw_key, str) and raw_key:
        return raw_key
    name = getattr(raw_key, "name", None)
    parent = getattr(raw_key, "parent", None)
    if isinstance(name, str) and isinstance(parent, str):
        # Param.parent is the owning stage's uid, e.g. "LogisticRegression_4f2a..."
        return f"{parent.rsplit('_', 1)[0]}.{name}"
    raise InvalidInputError(
        f"space key {raw_key!r} must be a param name or a pyspark.ml Param (e.g. lr.regParam)"
    )
