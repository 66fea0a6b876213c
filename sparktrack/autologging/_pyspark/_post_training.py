"""Post-training metrics: ``Evaluator.evaluate`` on a tracked model's predictions.

When a model autolog tracked transforms a DataFrame, the output's prediction columns
get fresh Catalyst expression ids (``prediction#345``). Those ids survive ``select``,
``filter``, ``join`` and friends, so an evaluator's input that still carries one of
them derives from that model's output, whatever happened in between. Finding the ids
needs only plan analysis (one py4j call), never a Spark job.
"""

from __future__ import annotations

import inspect
import re
import threading
import weakref
from typing import Any

__all__ = ["PredictionRegistry"]

_ATTRIBUTE = re.compile(r"([^\s,()\[\]]+)#(\d+)L?")
_PREDICTION_PARAMS = ("predictionCol", "rawPredictionCol", "probabilityCol")


def output_expr_ids(dataframe: Any) -> dict[str, int]:
    """Column name -> expression id of a DataFrame's output attributes."""
    text = dataframe._jdf.queryExecution().analyzed().output().toString()
    return {name: int(expr_id) for name, expr_id in _ATTRIBUTE.findall(text)}


def prediction_columns(model: Any) -> set[str]:
    from pyspark.ml import PipelineModel

    owners = model.stages if isinstance(model, PipelineModel) else [model]
    names: set[str] = set()
    for owner in owners:
        for param in _PREDICTION_PARAMS:
            if owner.hasParam(param) and owner.isDefined(owner.getParam(param)):
                names.add(owner.getOrDefault(owner.getParam(param)))
    return names


class PredictionRegistry:
    """Tracked models, and the expression ids of the predictions they produced."""

    def __init__(self) -> None:
        self._models: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self._expr_runs: dict[int, str] = {}
        self._names_logged: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def track_model(self, model: Any, run_id: str) -> None:
        with self._lock:
            self._models[model] = run_id

    def run_of_model(self, model: Any) -> str | None:
        with self._lock:
            return self._models.get(model)

    @property
    def empty(self) -> bool:
        with self._lock:
            return not self._expr_runs

    def record_transform(self, model: Any, run_id: str, output: Any) -> None:
        ids = output_expr_ids(output)
        wanted = prediction_columns(model)
        with self._lock:
            for name, expr_id in ids.items():
                if name in wanted:
                    self._expr_runs[expr_id] = run_id

    def run_of_dataset(self, evaluator: Any, dataset: Any) -> str | None:
        columns = {
            evaluator.getOrDefault(evaluator.getParam(p))
            for p in _PREDICTION_PARAMS
            if evaluator.hasParam(p) and evaluator.isDefined(evaluator.getParam(p))
        }
        if not columns:
            return None
        ids = output_expr_ids(dataset)
        with self._lock:
            for name in columns:
                run_id = self._expr_runs.get(ids.get(name, -1))
                if run_id is not None:
                    return run_id
        return None

    def metric_key(self, run_id: str, metric: str, dataset_name: str) -> str:
        """``<metric>_<dataset>``; a second evaluation under the same key gets ``-1``, ``-2``."""
        base = f"{metric}_{dataset_name}"
        with self._lock:
            count = self._names_logged.get((run_id, base), 0)
            self._names_logged[(run_id, base)] = count + 1
        return base if count == 0 else f"{base}-{count}"


def dataset_variable_name(dataset: Any, frame_depth: int = 3) -> str:
    """The name the caller gave the evaluated DataFrame (``test_predictions``), if any."""
    frame = inspect.currentframe()
    try:
        for _ in range(frame_depth):
            if frame is None:
                break
            frame = frame.f_back
        while frame is not None:
            for name, value in frame.f_locals.items():
                if value is dataset and not name.startswith("_") and name != "dataset":
                    return re.sub(r"[^\w]", "_", name)
            if "sparktrack" not in frame.f_code.co_filename and "pyspark" not in (
                frame.f_code.co_filename
            ):
                break
            frame = frame.f_back
    finally:
        del frame
    return "eval_dataset"
