"""Trials of a plain Python function, run as Spark tasks on the executors.

The driver sends one single-task job per trial (so trials start as slots free up
and spread over the executors); the task calls the function and sends back one
row: status, metrics, intermediate values, timings, the error if any. Executors
never talk to the store: the driver logs every row.

Pruning happens inside the task: it rebuilds the study from a snapshot of the
finished trials taken at launch, so the pruner compares the running trial with
everything finished before it started.

This module's code travels with every task by value (see ``_executors``): executors
need not have sparktrack. So it imports only the standard library at the top, and
Optuna only where a pruner runs.
"""

from __future__ import annotations

import inspect
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FunctionTrial", "TaskPayload", "accepts_trial", "run_in_task"]


def accepts_trial(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` takes ``(params, trial)`` rather than just ``(params)``."""
    try:
        parameters = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    return len(parameters) >= 2


@dataclass
class TaskPayload:
    fn: Callable[..., Any]
    number: int
    params: dict[str, Any]
    metric: str
    maximize: bool
    pass_trial: bool
    data: Any = None  # a Broadcast, or None
    pruner: Any = None
    finished: list[Any] = field(default_factory=list)  # FrozenTrials at launch


class FunctionTrial:
    """The second argument of a function trial ``fn(params, trial)``.

    ``trial.report(value, step)`` records an intermediate value of the metric;
    ``trial.should_prune()`` says whether the early-stopping rule would stop the trial
    now (then raise ``optuna.TrialPruned``, as with Optuna).

    Args:
        payload: What the trial's task received (the sweep builds it, not users).

    Attributes:
        number: The trial's number in the sweep.
        params: The trial's params.
        intermediate: The (step, value) pairs reported so far.
    """

    def __init__(self, payload: TaskPayload) -> None:
        self.number = payload.number
        self.params = dict(payload.params)
        self.intermediate: list[tuple[int, float]] = []
        self._payload = payload
        self._study: Any = None
        self._trial: Any = None

    @property
    def data(self) -> Any:
        """The sweep's ``train`` argument (broadcast once to the executors)."""
        data = self._payload.data
        return data.value if data is not None and hasattr(data, "value") else data

    def report(self, value: float, step: int | None = None) -> None:
        """Record an intermediate value of the metric (its run's ``intermediate_value``).

        Args:
            value: The metric so far.
            step: The step (an epoch, a number of trees...); the next one if None.
        """
        step = len(self.intermediate) if step is None else int(step)
        self.intermediate.append((step, float(value)))
        if self._payload.pruner is not None:
            self._mirror().report(float(value), step)

    def should_prune(self) -> bool:
        """Whether ``early_stopping`` would stop the trial now.

        The pruner compares the values reported so far with the trials that had
        finished when this one started. Without ``early_stopping``: always False.

        Returns:
            True when the trial should stop (raise ``optuna.TrialPruned``).
        """
        if self._payload.pruner is None or not self.intermediate:
            return False
        return bool(self._mirror().should_prune())

    def _mirror(self) -> Any:
        """This trial inside a copy of the study as it was when the trial started."""
        if self._trial is None:
            # Only pruning needs Optuna on the executor: imported here, not at the top.
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            self._study = optuna.create_study(
                direction="maximize" if self._payload.maximize else "minimize",
                pruner=self._payload.pruner,
                sampler=optuna.samplers.RandomSampler(),
            )
            self._study.add_trials(self._payload.finished)
            self._trial = self._study.ask()
        return self._trial


def run_in_task(payload: TaskPayload) -> dict[str, Any]:
    """Runs on an executor: call the function, return the trial's row."""
    trial = FunctionTrial(payload)
    started = time.time()
    row: dict[str, Any] = {
        "number": payload.number,
        "host": socket.gethostname(),
        # Executors fork their Python workers from one daemon each: its pid tells
        # executors apart, also when they share a host.
        "worker": f"{socket.gethostname()}:{os.getppid()}",
        "error": None,
        "metrics": {},
    }
    try:
        result = (
            payload.fn(payload.params, trial) if payload.pass_trial else payload.fn(payload.params)
        )
        row["metrics"] = _metrics_of(result, payload.metric)
        row["state"] = "complete"
    except Exception as exc:
        if _is_pruned(exc):
            row["state"] = "pruned"
        else:
            row["state"] = "failed"
            row["error"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    row["intermediate"] = trial.intermediate
    row["start_ms"] = int(started * 1000)
    row["end_ms"] = int(time.time() * 1000)
    return row


def _is_pruned(exc: Exception) -> bool:
    """Whether ``exc`` is ``optuna.TrialPruned``.

    A function can only raise it if Optuna is loaded, so an executor without Optuna is
    never asked to import it.
    """
    optuna = sys.modules.get("optuna")
    return optuna is not None and isinstance(exc, optuna.TrialPruned)


def _metrics_of(result: Any, metric: str) -> dict[str, float]:
    if isinstance(result, int | float) and not isinstance(result, bool):
        result = {metric: result}
    if not isinstance(result, Mapping):
        raise TypeError(
            f"the trial function returned {type(result).__name__}; return a dict of "
            f"metric name -> number that includes {metric!r}"
        )
    metrics = {}
    for key, value in result.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    f"the trial function returned {key!r}: {value!r}, not a number"
                ) from None
        metrics[str(key)] = float(value)
    if metric not in metrics:
        raise KeyError(
            f"the trial function returned {sorted(metrics)} but not the metric {metric!r} "
            "the sweep optimises"
        )
    return metrics
