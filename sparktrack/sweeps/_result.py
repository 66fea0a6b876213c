"""What a sweep returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["SweepResult"]


@dataclass
class SweepResult:
    """The sweep's parent run, its best trial and every trial.

    ``trials`` has one row per trial: ``number``, ``run_id``, ``state`` (complete,
    pruned, failed, killed), ``value`` (the optimised metric), ``params.<name>``,
    ``metrics.<name>``, ``start_time``, ``end_time`` (ms) and ``seconds``.
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
