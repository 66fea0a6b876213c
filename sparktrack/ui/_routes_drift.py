"""Drift over time of a registered model's versions: ``/api/registry/models/{name}/drift``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sparktrack.config import load_settings
from sparktrack.ui._deps import ui_state
from sparktrack.ui._drift import default_thresholds, how_to_start, monitored_versions
from sparktrack.ui._schemas import DriftAnswer
from sparktrack.ui._state import UiState

__all__ = ["router"]

router = APIRouter(prefix="/api/registry", tags=["registry"])
State = Annotated[UiState, Depends(ui_state)]


@router.get("/models/{name}/drift", response_model=DriftAnswer)
def drift(
    state: State,
    name: str,
    version: Annotated[
        str | None, Query(max_length=100, description="Only this version's passes")
    ] = None,
    experiment: Annotated[
        str | None,
        Query(max_length=500, description="The monitoring experiment (default: the setting)"),
    ] = None,
) -> DriftAnswer:
    """The monitoring passes of a registered model, per version, in time order.

    Each pass is a run ``sparktrack.monitor`` logged: its window, status, drift
    statistics per column, prediction drift and decay. Each version also carries its
    latest pass's per-column statuses (from that pass's report). The passes are runs
    of the experiment the ``monitoring_experiment`` setting names unless ``experiment``
    names another.
    """
    state.registry.get_registered_model(name)  # NotFoundError: a 404
    experiment_name = experiment or load_settings().monitoring_experiment
    found = state.client.get_experiment_by_name(experiment_name)
    versions = (
        monitored_versions(state.client, found.experiment_id, name, version)
        if found is not None
        else []
    )
    return DriftAnswer(
        model=name,
        experiment=experiment_name,
        experiment_id=found.experiment_id if found is not None else None,
        default_thresholds=default_thresholds(),
        versions=versions,
        how_to_start=how_to_start(name, state.client.store.uri),
    )
