"""What a sweep returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["SweepResult"]


@dataclass
class SweepResult:
    """What ``sparktrack.sweep`` returns: the sweep's run, its best trial, every trial.

    Attributes:
        run_id: The sweep's run.
        best_run_id: The best trial's run (None when no trial completed).
        best_params: The best trial's params.
        best_metric: The best trial's value of the optimised metric.
        metric: The optimised metric's name.
        mode: "max" or "min".
        trials: One row per trial: ``number``, ``run_id``, ``state`` (complete,
            pruned, failed, killed), ``value`` (the optimised metric),
            ``params.<name>``, ``metrics.<name>``, ``start_time``, ``end_time`` (ms),
            ``seconds`` and ``resumed`` (finished in an earlier run of the sweep).
        best_model: Estimator sweeps: the best model (refitted on all of ``train``
            when folds scored the trials).
        registered_version: The best model's version with ``register_as``.
        study: The ``optuna.Study``, for its plots and analyses.
    """

    run_id: str
    best_run_id: str | None
    best_params: dict[str, Any]
    best_metric: float | None
    metric: str
    mode: str
    trials: pd.DataFrame
    best_model: Any = None
    registered_version: int | None = None
    study: Any = None  # the optuna.Study, for its plots and analyses

    def __repr__(self) -> str:
        states = self.trials["state"].value_counts().to_dict() if len(self.trials) else {}
        return (
            f"SweepResult(run_id={self.run_id!r}, best_run_id={self.best_run_id!r}, "
            f"best_metric={self.best_metric!r} ({self.mode} {self.metric}), "
            f"best_params={self.best_params!r}, trials={states})"
        )
