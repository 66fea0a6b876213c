"""Experiments and the runs table: ``/api/experiments``, ``/api/runs``, ``/api/runs/keys``."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query

from sparktrack.ui._deps import ui_state
from sparktrack.ui._runs_query import (
    MAX_PAGE,
    ViewType,
    matching_runs,
    millis,
    run_page,
)
from sparktrack.ui._schemas import ExperimentList, ExperimentSummary, KeyList, RunPage
from sparktrack.ui._state import UiState

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["runs"])
State = Annotated[UiState, Depends(ui_state)]
MAX_COLUMNS = 200  # chosen columns per kind: a table wider than that helps nobody


def _split(values: list[str] | None) -> list[str]:
    """Repeated query values, each possibly comma-separated, in order, once each."""
    found: list[str] = []
    for value in values or []:
        for part in value.split(","):
            if part.strip() and part.strip() not in found:
                found.append(part.strip())
    return found


def _experiments(state: UiState, values: list[str] | None) -> list[str]:
    """The experiment ids asked for, each checked to exist (NotFoundError: a 404)."""
    ids = _split(values)
    for experiment_id in ids:
        state.client.get_experiment(experiment_id)
    return ids


@router.get("/experiments", response_model=ExperimentList)
def experiments(
    state: State,
    q: Annotated[str, Query(max_length=500, description="Part of the name, any case")] = "",
    view: ViewType = "ACTIVE_ONLY",
    counts: Annotated[
        bool, Query(description="Count each one's runs and find its last activity")
    ] = True,
) -> ExperimentList:
    """The experiments with their run count and last activity, matching ``q``.

    Without ``counts`` the runs are not read: counts are 0 and last activity null.
    """
    found = state.client.search_experiments(view)
    needle = q.strip().lower()
    found = [e for e in found if needle in e.name.lower()]
    activity = (
        _activity(state, [e.experiment_id for e in found])
        if counts and found
        else pd.DataFrame(columns=["runs", "last"])
    )
    return ExperimentList(
        experiments=[
            ExperimentSummary(
                experiment_id=e.experiment_id,
                name=e.name,
                lifecycle_stage=e.lifecycle_stage,
                creation_time=e.creation_time,
                run_count=int(activity["runs"].get(e.experiment_id, 0)),
                last_activity=millis(activity["last"].get(e.experiment_id)),
            )
            for e in found
        ]
    )


def _activity(state: UiState, experiment_ids: list[str]) -> pd.DataFrame:
    """Per experiment id: its number of runs and the latest start or end among them."""
    frame = matching_runs(state.client, experiment_ids, "", None)
    latest = frame[["start_time", "end_time"]].max(axis=1)
    grouped = latest.groupby(frame["experiment_id"].astype(str))
    return pd.DataFrame({"runs": grouped.size(), "last": grouped.max()})


@router.get("/runs", response_model=RunPage)
def runs(
    state: State,
    experiment_id: Annotated[list[str] | None, Query()] = None,
    filter: Annotated[str, Query(max_length=10_000, description="The search grammar")] = "",
    order_by: Annotated[list[str] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    params: Annotated[list[str] | None, Query()] = None,
    metrics: Annotated[list[str] | None, Query()] = None,
    tags: Annotated[list[str] | None, Query()] = None,
    nested: bool = True,
    view: ViewType = "ACTIVE_ONLY",
) -> RunPage:
    """A page of the runs of some experiments (all by default) matching ``filter``.

    ``order_by`` clauses are the grammar's (``metrics.auc DESC``); ``params``,
    ``metrics`` and ``tags`` name the columns to return (comma-separated or repeated,
    at most 200 each). Nested runs are listed under their parent unless ``nested`` is
    false.
    """
    frame = matching_runs(state.client, _experiments(state, experiment_id), filter, order_by, view)
    total, rows, running = run_page(
        state.client,
        frame,
        offset=offset,
        limit=limit,
        params=_split(params)[:MAX_COLUMNS],
        metrics=_split(metrics)[:MAX_COLUMNS],
        tags=_split(tags)[:MAX_COLUMNS],
        nested=nested,
    )
    return RunPage(total=total, offset=offset, limit=limit, rows=rows, running=running)


@router.get("/runs/keys", response_model=KeyList)
def run_keys(
    state: State,
    kind: Annotated[Literal["params", "metrics", "tags"], Query()],
    experiment_id: Annotated[list[str] | None, Query()] = None,
    q: Annotated[str, Query(max_length=500, description="Part of the key, any case")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
) -> KeyList:
    """The params, metrics or tags keys the runs of some experiments have, matching ``q``.

    Keys starting with ``q`` come first, then keys containing it; at most ``limit``.
    """
    ids = _experiments(state, experiment_id)
    keys = state.client.list_run_keys(kind, ids or None)
    needle = q.lower()
    starting = [k for k in keys if k.lower().startswith(needle)]
    containing = [k for k in keys if needle in k.lower() and not k.lower().startswith(needle)]
    found = starting + containing
    return KeyList(kind=kind, keys=found[:limit], total=len(found), truncated=len(found) > limit)
