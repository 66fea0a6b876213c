"""Module-level registry functions on the fluent API's store (``set_store``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sparktrack.registry._client import RegistryClient
from sparktrack.registry._entities import ModelVersion, RegisteredModel, Transition

__all__ = [
    "delete_model_alias",
    "delete_model_version",
    "delete_registered_model",
    "get_model_history",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
    "get_registry_client",
    "register_model",
    "search_model_versions",
    "search_registered_models",
    "set_model_alias",
    "set_model_stage",
]


def get_registry_client() -> RegistryClient:
    """The registry of the fluent API's store."""
    from sparktrack.tracking import get_client

    return get_client().registry


def register_model(
    model_uri: str,
    name: str,
    *,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> ModelVersion:
    """Register the model at ``model_uri`` (e.g. ``runs:/<run_id>/model``) as the next
    version of ``name``, creating the registered model if needed."""
    return get_registry_client().register_model(model_uri, name, tags=tags, description=description)


def set_model_stage(name: str, version: int | str, stage: str) -> ModelVersion:
    """Move a version to None, Staging, Production or Archived; the version that held
    Staging or Production before is archived in the same commit."""
    return get_registry_client().transition_model_version_stage(name, version, stage)


def set_model_alias(name: str, alias: str, version: int | str) -> None:
    """Point ``alias`` (e.g. ``champion``) at a version: ``models:/<name>@<alias>``."""
    get_registry_client().set_registered_model_alias(name, alias, version)


def delete_model_alias(name: str, alias: str) -> None:
    get_registry_client().delete_registered_model_alias(name, alias)


def get_model_version(name: str, version: int | str) -> ModelVersion:
    return get_registry_client().get_model_version(name, version)


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion:
    return get_registry_client().get_model_version_by_alias(name, alias)


def get_registered_model(name: str) -> RegisteredModel:
    return get_registry_client().get_registered_model(name)


def search_model_versions(
    filter_string: str | None = None,
    *,
    max_results: int | None = None,
    order_by: Sequence[str] | None = None,
) -> list[ModelVersion]:
    """Versions matching e.g. ``"name = 'churn' AND current_stage = 'Production'"``."""
    return get_registry_client().search_model_versions(
        filter_string, max_results=max_results, order_by=order_by
    )


def search_registered_models(
    filter_string: str | None = None,
    *,
    max_results: int | None = None,
    order_by: Sequence[str] | None = None,
) -> list[RegisteredModel]:
    return get_registry_client().search_registered_models(
        filter_string, max_results=max_results, order_by=order_by
    )


def get_model_history(name: str, version: int | str | None = None) -> list[Transition]:
    """Registrations, stage changes, alias moves and deletions (who, when, from, to)."""
    return get_registry_client().get_model_history(name, version)


def delete_model_version(name: str, version: int | str) -> None:
    get_registry_client().delete_model_version(name, version)


def delete_registered_model(name: str) -> None:
    get_registry_client().delete_registered_model(name)
