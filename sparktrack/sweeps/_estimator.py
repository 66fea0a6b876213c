"""Trials of a pyspark.ml Estimator: fit with a param map, score with an evaluator.

Each trial fits on the cluster from a driver thread, as CrossValidator's own pool
does; the DataFrames of the folds are split and cached once for the whole sweep.
H2O estimators work too: they are fitted with ``fit(df, params)`` and scored with
the fitted model's ``transform`` (CrossValidator's ``copy`` breaks them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sparktrack.errors import InvalidInputError

__all__ = ["EstimatorTarget", "Folds", "evaluator_direction", "resolve_param"]


def _stages(estimator: Any) -> list[Any]:
    """The estimator and, for a Pipeline, its stages (recursively)."""
    found = [estimator]
    get_stages = getattr(estimator, "getStages", None)
    if callable(get_stages):
        for stage in get_stages():
            found.extend(_stages(stage))
    return found


def _class_name(stage: Any) -> str:
    return type(stage).__name__


def resolve_param(estimator: Any, key: str, given: Any = None) -> Any:
    """The Param a space key names, unique among the estimator and its stages.

    A key is ``regParam``, ``LogisticRegression.regParam`` or ``<stage uid>.regParam``.
    """
    if given is not None:
        owners = [s for s in _stages(estimator) if s.uid == given.parent]
        if not owners:
            raise InvalidInputError(
                f"space key {key!r} is a Param of stage {given.parent!r}, which is not in "
                f"the estimator being swept ({_class_name(estimator)})"
            )
        return given
    prefix, _, name = key.rpartition(".")
    candidates = []
    for stage in _stages(estimator):
        if prefix and prefix not in (stage.uid, _class_name(stage)):
            continue
        if stage.hasParam(name):
            candidates.append(stage.getParam(name))
    if not candidates:
        stages = ", ".join(f"{_class_name(s)} ({s.uid})" for s in _stages(estimator))
        raise InvalidInputError(
            f"space key {key!r} names no param of the swept estimator; its stages are "
            f"{stages}. Write '<param>' or '<StageClass>.<param>'"
        )
    if len(candidates) > 1:
        parents = ", ".join(p.parent for p in candidates)
        raise InvalidInputError(
            f"space key {key!r} matches params of several stages ({parents}); write "
            "'<StageClass>.<param>' or '<stage uid>.<param>' to pick one"
        )
    return candidates[0]


class Folds:
    """The (train, validation) DataFrame pairs that score an estimator trial.

    ``valid`` alone, or ``num_folds`` folds of ``train``, split and cached once for the
    whole sweep (``open``) and unpersisted when it ends (``release``).
    """

    def __init__(self, train: Any, valid: Any, num_folds: int, seed: int) -> None:
        self.count = 1 if valid is not None else num_folds
        self.pairs: list[tuple[Any, Any]] = []
        self._train = train
        self._valid = valid
        self._seed = seed
        self._cached: list[Any] = []

    def open(self) -> None:
        """Make the pairs: split and cache the folds (lazily: Spark fills the cache)."""
        if self._valid is not None:
            self.pairs = [(self._train, self._valid)]
            return
        # Imported here, not at the top: `import sparktrack` must not load pyspark.
        from pyspark.sql import functions as F

        # CrossValidator's own split: a random column cut into equal bands.
        column = "_sparktrack_fold"
        marked = self._train.select("*", F.rand(self._seed).alias(column))
        width = 1.0 / self.count
        for fold in range(self.count):
            inside = (marked[column] >= fold * width) & (marked[column] < (fold + 1) * width)
            validation = marked.filter(inside).drop(column).cache()
            training = marked.filter(~inside).drop(column).cache()
            self.pairs.append((training, validation))
            self._cached += [training, validation]

    def release(self) -> None:
        """Unpersist the folds' cached DataFrames."""
        for frame in self._cached:
            frame.unpersist()
        self._cached = []
        self.pairs = []


@dataclass
class EstimatorTarget:
    """What one estimator trial needs: the estimator, data, evaluator, param lookup."""

    estimator: Any
    evaluator: Any
    folds: Folds
    params: Mapping[str, Any]  # space key -> Param (dict spaces); filled lazily otherwise
    maximize: bool

    @property
    def metric_name(self) -> str:
        get_name = getattr(self.evaluator, "getMetricName", None)
        return str(get_name()) if callable(get_name) else "metric"

    def param_map(self, values: Mapping[str, Any]) -> dict[Any, Any]:
        mapping = {}
        for key, value in values.items():
            param = self.params.get(key) or resolve_param(self.estimator, key)
            mapping[param] = value
        return mapping

    def run(
        self, values: Mapping[str, Any], report: Callable[[float, int], None]
    ) -> tuple[float, Any, list[float]]:
        """Fit on each fold, report each fold's score; (mean score, last model, scores)."""
        param_map = self.param_map(values)
        scores = []
        model = None
        for step, (training, validation) in enumerate(self.folds.pairs):
            model = self.estimator.fit(training, param_map)
            score = float(self.evaluator.evaluate(model.transform(validation)))
            scores.append(score)
            # Reported as the running mean, so pruners compare like with like.
            report(sum(scores) / len(scores), step)
        return sum(scores) / len(scores), model, scores

    def refit(self, train: Any, values: Mapping[str, Any]) -> Any:
        """The estimator fitted on all of ``train`` with the params ``values``."""
        return self.estimator.fit(train, self.param_map(values))


def evaluator_direction(evaluator: Any) -> bool:
    """Whether bigger is better, as the evaluator says."""
    is_larger_better = getattr(evaluator, "isLargerBetter", None)
    if not callable(is_larger_better):
        raise InvalidInputError(
            f"evaluator {evaluator!r} is not a pyspark.ml Evaluator (it has no isLargerBetter)"
        )
    return bool(is_larger_better())
