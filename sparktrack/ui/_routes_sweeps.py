"""A sweep's page: ``/api/sweeps/{run_id}`` for the run of the sweep."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from sparktrack.errors import NotFoundError
from sparktrack.sweeps import SweepTags
from sparktrack.ui._deps import ui_state
from sparktrack.ui._routes_run import get_run_or_404
from sparktrack.ui._schemas import SweepAnswer
from sparktrack.ui._state import UiState
from sparktrack.ui._sweep_summary import sweep_summary

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["sweeps"])
State = Annotated[UiState, Depends(ui_state)]


@router.get("/sweeps/{run_id}", response_model=SweepAnswer)
def sweep(state: State, run_id: str) -> SweepAnswer:
    """The sweep whose run is ``run_id``: trials, state counts, best-so-far, importances."""
    run = get_run_or_404(state.client, run_id)
    if run.data.tags.get(SweepTags.ROLE) != "sweep":
        raise NotFoundError(f"run {run_id} is not a sweep's run")
    return sweep_summary(state.client, run)
