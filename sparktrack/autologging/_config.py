"""Autolog arguments (MLflow's names and meanings), one frozen record per integration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AutologConfig"]


@dataclass(frozen=True)
class AutologConfig:
    """The arguments of one ``autolog()`` call, as each integration reads them.

    The fields are ``autolog()``'s arguments, with its meanings; ``log_model_allowlist``
    is None for the integration's default.
    """

    log_models: bool = True
    log_profiles: bool = False
    log_datasets: bool = True
    log_post_training_metrics: bool = True
    exclusive: bool = False
    silent: bool = False
    max_tuning_runs: int | None = 5
    log_model_allowlist: Sequence[str] | None = None  # None: the integration's default
    registered_model_name: str | None = None
    extra_tags: Mapping[str, Any] = field(default_factory=dict)
