"""The model registry: models, versions with stages and aliases, history, serve commands."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from sparktrack.registry import ModelVersion, RegisteredModel, RegistryClient, Stage
from sparktrack.ui._deps import ui_state
from sparktrack.ui._schemas import (
    ModelDetail,
    ModelList,
    ModelSummary,
    ModelVersionOut,
    TransitionOut,
)
from sparktrack.ui._state import UiState

__all__ = ["model_summary", "router", "version_out"]

router = APIRouter(prefix="/api/registry", tags=["registry"])
State = Annotated[UiState, Depends(ui_state)]


def _shown(entity: Any, schema: type[BaseModel]) -> dict[str, Any]:
    """The attributes of a registry entity that ``schema`` shows, by name."""
    return {name: getattr(entity, name) for name in schema.model_fields if hasattr(entity, name)}


def version_out(version: ModelVersion, store_uri: str) -> ModelVersionOut:
    """A version as the API shows it, with the command that serves it."""
    return ModelVersionOut(
        **_shown(version, ModelVersionOut),
        serve_command=f"sparktrack --store {store_uri} serve {version.model_uri}",
    )


def model_summary(model: RegisteredModel, store_uri: str) -> ModelSummary:
    """A registered model as the API shows it."""
    return ModelSummary(
        name=model.name,
        description=model.description,
        version_count=model.version_count,
        aliases=dict(model.aliases),
        latest_versions=[version_out(v, store_uri) for v in model.latest_versions],
        last_updated_timestamp=model.last_updated_timestamp,
    )


def _registry(state: UiState) -> tuple[RegistryClient, str]:
    return state.registry, state.client.store.uri


@router.get("/models", response_model=ModelList)
def models(
    state: State,
    q: Annotated[str, Query(max_length=500, description="Part of the name, any case")] = "",
) -> ModelList:
    """The registered models whose name contains ``q``."""
    registry, uri = _registry(state)
    needle = q.strip().lower()
    found = [m for m in registry.search_registered_models() if needle in m.name.lower()]
    return ModelList(models=[model_summary(m, uri) for m in found])


@router.get("/models/{name}", response_model=ModelDetail)
def model(state: State, name: str) -> ModelDetail:
    """A registered model: its versions (newest first) and its whole history."""
    registry, uri = _registry(state)
    entity = registry.get_registered_model(name)
    versions = registry.search_model_versions(
        f"name = '{name.replace(chr(39), chr(39) * 2)}'", order_by=["version DESC"]
    )
    history = [TransitionOut(**_shown(t, TransitionOut)) for t in registry.get_model_history(name)]
    return ModelDetail(
        model=model_summary(entity, uri),
        versions=[version_out(v, uri) for v in versions],
        history=history,
        stages=list(Stage.ALL),
    )
