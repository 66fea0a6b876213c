"""Changes, only with ``--allow-writes``: stages, aliases, run names, tags and deletes.

Each goes through the same client call as the Python API and the CLI, so the same
rules hold (one version per exclusive stage, version numbers checked, tag keys
validated). A UI started read-only answers every one of them 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from sparktrack.ui._deps import ui_state
from sparktrack.ui._routes_registry import version_out
from sparktrack.ui._routes_run import run_exists
from sparktrack.ui._schemas import ModelVersionOut
from sparktrack.ui._state import UiState

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["changes (--allow-writes)"])
State = Annotated[UiState, Depends(ui_state)]


class StageChange(BaseModel):
    stage: str = Field(max_length=32, description="None, Staging, Production or Archived")


class AliasChange(BaseModel):
    version: int = Field(ge=1)


class RunChange(BaseModel):
    run_name: str = Field(max_length=1_000)


class TagChange(BaseModel):
    key: str = Field(max_length=1_000)
    value: str = Field(max_length=100_000)


class Done(BaseModel):
    ok: bool = True


def _writable(state: State) -> UiState:
    state.check_writes()
    return state


Writable = Annotated[UiState, Depends(_writable)]


@router.post("/registry/models/{name}/versions/{version}/stage", response_model=ModelVersionOut)
def set_stage(state: Writable, name: str, version: int, change: StageChange) -> ModelVersionOut:
    """Move a version to a stage (promoting archives the version that held it)."""
    moved = state.registry.transition_model_version_stage(name, version, change.stage)
    return version_out(moved, state.client.store.uri)


@router.put("/registry/models/{name}/aliases/{alias}", response_model=Done)
def set_alias(state: Writable, name: str, alias: str, change: AliasChange) -> Done:
    """Point an alias at a version."""
    state.registry.set_registered_model_alias(name, alias, change.version)
    return Done()


@router.delete("/registry/models/{name}/aliases/{alias}", response_model=Done)
def delete_alias(state: Writable, name: str, alias: str) -> Done:
    """Remove an alias."""
    state.registry.delete_registered_model_alias(name, alias)
    return Done()


@router.patch("/runs/{run_id}", response_model=Done)
def rename_run(state: Writable, run_id: str, change: RunChange) -> Done:
    """Rename a run."""
    run_exists(state.client, run_id)
    state.client.rename_run(run_id, change.run_name)
    state.client.flush()
    return Done()


@router.post("/runs/{run_id}/tags", response_model=Done)
def set_tag(state: Writable, run_id: str, change: TagChange) -> Done:
    """Set a tag of a run."""
    run_exists(state.client, run_id)
    state.client.set_tag(run_id, change.key, change.value)
    state.client.flush()
    return Done()


@router.delete("/runs/{run_id}/tags", response_model=Done)
def delete_tag(state: Writable, run_id: str, key: Annotated[str, Query(max_length=1_000)]) -> Done:
    """Delete a tag of a run."""
    run_exists(state.client, run_id)
    state.client.delete_tag(run_id, key)
    state.client.flush()
    return Done()


@router.delete("/runs/{run_id}", response_model=Done)
def delete_run(state: Writable, run_id: str) -> Done:
    """Soft-delete a run (``TrackingClient.restore_run`` undoes it)."""
    run_exists(state.client, run_id)
    state.client.delete_run(run_id)
    state.client.flush()
    return Done()
